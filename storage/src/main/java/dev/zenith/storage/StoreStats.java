package dev.zenith.storage;

import java.util.Map;

/**
 * @param entries    entries per LMDB table
 * @param usedBytes  LMDB pages holding data now (every table's branch, leaf and overflow pages); freed
 *                   pages are reused by later writes, so this, not the file, shows what the data costs
 * @param highWaterBytes pages ever used (last page number times page size): the file's high-water mark
 * @param fileBytes  size of data.mdb (sparse: LMDB only reserves address space)
 * @param lastTransactionId LMDB's id of the last committed write (grows only when a commit changed something)
 */
public record StoreStats(Map<String, Long> entries, long usedBytes, long highWaterBytes, long fileBytes,
                         long lastTransactionId) {
    public long entries(String table) {
        return entries.getOrDefault(table, 0L);
    }
}
