"""What every layer uses: atomic file output (io), progress bars, where the project is, stage timings."""
