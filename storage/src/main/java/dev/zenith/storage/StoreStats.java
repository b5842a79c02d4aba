package dev.zenith.storage;

import java.util.Map;

/**
 * @param entries    entries per LMDB table
 * @param usedBytes  LMDB pages in use (last page number times page size)
 * @param fileBytes  size of data.mdb
 */
public record StoreStats(Map<String, Long> entries, long usedBytes, long fileBytes) {
    public long entries(String table) {
        return entries.getOrDefault(table, 0L);
    }
}
