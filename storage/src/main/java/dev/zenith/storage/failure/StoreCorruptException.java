package dev.zenith.storage.failure;

/**
 * Stored data does not read back as it was written (a checksum fails, acknowledged WAL is missing from
 * the journal): the message names the storage's file or table, the key or offset, and the LSNs. Whatever
 * asked for the data gets nothing of it.
 */
public class StoreCorruptException extends StoreException {
    public StoreCorruptException(String message) {
        super(message);
    }
}
