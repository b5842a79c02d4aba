package dev.zenith.storage;

import java.util.Map;

/**
 * @param entries    entries per LMDB table
 * @param usedBytes  LMDB pages in use (last page number times page size)
 * @param fileBytes  size of data.mdb
 * @param lastTransactionId LMDB's id of the last committed write (grows only when a commit changed something)
 */
public record StoreStats(Map<String, Long> entries, long usedBytes, long fileBytes, long lastTransactionId) {
    public long entries(String table) {
        return entries.getOrDefault(table, 0L);
    }
}
