"""Inspection of activations without training: plot (f and f'), check (properties),
flow (signal propagation at initialisation), speed (kernel throughput)."""
