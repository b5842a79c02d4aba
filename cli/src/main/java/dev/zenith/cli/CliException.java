package dev.zenith.cli;

/** A user-facing error: printed to stderr as {@code zenith: MESSAGE}, exit code 1 (or the given one). */
class CliException extends RuntimeException {
    private final int exitCode;

    CliException(String message) {
        this(message, 1);
    }

    CliException(String message, int exitCode) {
        super(message);
        this.exitCode = exitCode;
    }

    int exitCode() {
        return exitCode;
    }
}
