package dev.zenith.server.offload;

/** Someone else wrote the prefix since this cache last did: this daemon must not write it any more. */
final class PrefixTakenException extends IllegalStateException {
    PrefixTakenException(String message) {
        super(message);
    }
}
