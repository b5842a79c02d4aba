package dev.zenith.storage.lmdb;

/**
 * A read run through {@link ColdValues#withoutFetching} met a value whose bytes are only in its remote home:
 * not a failure of the store, a signal to run the read again where a download may be waited for. No stack
 * trace: it is expected, and thrown on a hot thread.
 */
public final class EvictedValueException extends RuntimeException {
    EvictedValueException(String message) {
        super(message, null, false, false);
    }
}
