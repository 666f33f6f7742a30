"""Exit statuses and the error that means bad input or configuration."""

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class CliError(Exception):
    """Bad input or configuration: printed as one line, exit status 2."""
