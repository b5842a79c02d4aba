package dev.zenith.storage.image;

import java.time.Duration;

/**
 * What an import did.
 *
 * @param forksRead       relation forks whose files were read
 * @param forksKept       relation forks carried over from the previous image without reading
 * @param pagesRead       pages read and verified
 * @param pagesStored     page versions written (the rest already existed with the same content)
 * @param bytesRead       bytes of relation and other files read
 * @param bytesStored     encoded bytes of new page versions and new file blobs
 * @param filesStored     non-relation files whose content was new to the store
 */
public record ImportStats(int forksRead, int forksKept, long pagesRead, long pagesStored, long bytesRead,
                          long bytesStored, int files, int filesStored, Duration duration) {
}
