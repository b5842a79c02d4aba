package dev.zenith.wal.decoder;

/** Why valid WAL ends where it does. */
public enum EndReason {
    /** A record header or page header of zeros: space PostgreSQL has not written yet. */
    ZEROS,
    /** A record whose CRC-32C does not match: torn or corrupt. */
    BAD_CRC,
    /** xl_prev does not point at the previous record: stale WAL from a recycled segment. */
    BAD_PREV_LINK,
    /** A page whose xlp_pageaddr is not its own position: a recycled segment's old contents. */
    BAD_PAGE_ADDRESS,
    /** A page header with a wrong magic number (not zeros). */
    BAD_MAGIC,
    /** A page header whose timeline is not the expected one or goes backwards. */
    BAD_TIMELINE,
    /** A page header with invalid info bits, segment size, block size, or system identifier. */
    BAD_PAGE_HEADER,
    /** xl_tot_len too small or impossibly large, or a block/main-data layout that does not add up. */
    BOGUS_LENGTH,
    /** An xl_rmid that is neither built in nor in the custom range. */
    BAD_RMGR,
    /** A record's next page does not continue it (XLP_FIRST_IS_CONTRECORD missing or wrong length). */
    MISSING_CONTRECORD,
    /** A page claims to continue a record where a new record should begin. */
    UNEXPECTED_CONTRECORD,
    /** The block reference headers are inconsistent (DecodeXLogRecord's checks). */
    BAD_BLOCK_REFERENCE
}
