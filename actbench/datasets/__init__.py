"""Dataset file handling shared by every task family: locate, download with MD5 and progress."""
