package dev.zenith.server.remote;

import dev.zenith.objectstore.catalogue.ClusterFacts;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * The databases' locales read from the heap file of PostgreSQL 15's {@code pg_database} ({@code global/1262} of a
 * cleanly stopped data directory): what {@link LocalFacts#databases} asks a running server, for a snapshot whose pg
 * does not run. Layout from catalog/pg_database.h, storage/bufpage.h, access/htup_details.h and varatt.h (15,
 * little-endian). Row versions a committed update or delete replaced are skipped; a row whose creating transaction
 * aborted would be taken (pg_database rows are written by CREATE/ALTER DATABASE only). No I/O.
 */
final class DatabaseLocales {
    private static final int PAGE = 8192;
    private static final int PAGE_HEADER = 24;
    private static final int LP_NORMAL = 1;
    private static final int HEAP_HASNULL = 0x0001;
    private static final int HEAP_XMAX_LOCK_ONLY = 0x0080;
    private static final int HEAP_XMIN_INVALID = 0x0200;
    private static final int HEAP_XMAX_INVALID = 0x0800;
    /** Byte offsets of the fixed-width columns (oid, datname NameData(64), datdba, encoding, datlocprovider, ...). */
    private static final int DATNAME = 4;
    private static final int DATLOCPROVIDER = 76;
    private static final int DATALLOWCONN = 78;
    /** The first variable-width column (datcollate), 4-aligned after dattablespace; its attribute number is 11. */
    private static final int VARIABLE = 96;
    private static final int FIRST_VARIABLE_ATTRIBUTE = 11;

    private DatabaseLocales() {
    }

    /** pg_database's relation id; its file is named by global/pg_filenode.map (1262 until a VACUUM FULL of it). */
    static final int PG_DATABASE = 1262;
    private static final int RELMAPPER_FILEMAGIC = 0x592717;
    private static final int MAX_MAPPINGS = 62;

    /** The file number global/pg_filenode.map (relmapper.c's RelMapFile) gives pg_database. */
    static int fileNumber(byte[] map) {
        ByteBuffer b = ByteBuffer.wrap(map).order(ByteOrder.LITTLE_ENDIAN);
        if (map.length < 8 + MAX_MAPPINGS * 8 || b.getInt(0) != RELMAPPER_FILEMAGIC) {
            throw new IllegalArgumentException("not a PostgreSQL 15 relation map file");
        }
        int n = b.getInt(4);
        for (int i = 0; i < Math.min(n, MAX_MAPPINGS); i++) {
            if (b.getInt(8 + i * 8) == PG_DATABASE) {
                return b.getInt(12 + i * 8);
            }
        }
        throw new IllegalArgumentException("the relation map names no file for pg_database");
    }

    /** The databases that take connections, by name, as pg_database's heap file holds them. */
    static List<ClusterFacts.DatabaseLocale> parse(byte[] heap) {
        List<ClusterFacts.DatabaseLocale> out = new ArrayList<>();
        ByteBuffer b = ByteBuffer.wrap(heap).order(ByteOrder.LITTLE_ENDIAN);
        for (int page = 0; page + PAGE <= heap.length; page += PAGE) {
            int lower = Short.toUnsignedInt(b.getShort(page + 12));
            for (int lp = page + PAGE_HEADER; lp + 4 <= page + lower; lp += 4) {
                int item = b.getInt(lp);
                int off = item & 0x7fff;
                int flags = (item >>> 15) & 3;
                int len = item >>> 17;
                if (flags != LP_NORMAL || len == 0) {
                    continue;
                }
                row(b, page + off, len).ifPresent(out::add);
            }
        }
        out.sort(Comparator.comparing(ClusterFacts.DatabaseLocale::name));
        return out;
    }

    private static Optional<ClusterFacts.DatabaseLocale> row(ByteBuffer b, int tuple, int len) {
        int xmax = b.getInt(tuple + 4);
        int infomask = Short.toUnsignedInt(b.getShort(tuple + 20));
        int hoff = Byte.toUnsignedInt(b.get(tuple + 22));
        boolean replaced = xmax != 0 && (infomask & HEAP_XMAX_INVALID) == 0 && (infomask & HEAP_XMAX_LOCK_ONLY) == 0;
        if ((infomask & HEAP_XMIN_INVALID) != 0 || replaced) {
            return Optional.empty();
        }
        int data = tuple + hoff;
        if (b.get(data + DATALLOWCONN) == 0) {
            return Optional.empty();
        }
        String name = cString(b, data + DATNAME, 64);
        char provider = (char) b.get(data + DATLOCPROVIDER);
        String[] text = new String[4]; // datcollate, datctype, daticulocale, datcollversion (datacl, an array, follows)
        int at = data + VARIABLE;
        for (int i = 0; i < text.length; i++) {
            int attribute = FIRST_VARIABLE_ATTRIBUTE + i;
            if ((infomask & HEAP_HASNULL) != 0 && (b.get(tuple + 23 + attribute / 8) & (1 << (attribute % 8))) == 0) {
                continue; // null
            }
            if (b.get(at) == 0) {
                at = data + align4(at - data); // a pad byte: the value (a 4-byte header) is int-aligned
            }
            int first = Byte.toUnsignedInt(b.get(at));
            int headerLength;
            int total;
            if ((first & 0x01) != 0) {
                if (first == 0x01) {
                    throw new IllegalArgumentException("pg_database row " + name + " has a TOAST pointer");
                }
                headerLength = 1;
                total = first >>> 1;
            } else {
                if ((first & 0x03) == 0x02) {
                    throw new IllegalArgumentException("pg_database row " + name + " has a compressed value");
                }
                headerLength = 4;
                total = b.getInt(at) >>> 2;
            }
            if (total < headerLength || at + total > tuple + len) {
                throw new IllegalArgumentException("pg_database row " + name + " has a value past its end");
            }
            byte[] v = new byte[total - headerLength];
            b.get(at + headerLength, v);
            text[i] = new String(v, StandardCharsets.UTF_8);
            at += total;
        }
        if (text[0] == null || text[1] == null) {
            throw new IllegalArgumentException("pg_database row " + name + " has no collation or ctype");
        }
        return Optional.of(new ClusterFacts.DatabaseLocale(name, provider == 'i' ? "icu" : "libc", text[0], text[1],
                Optional.ofNullable(text[2]), Optional.ofNullable(text[3])));
    }

    private static int align4(int n) {
        return (n + 3) & ~3;
    }

    private static String cString(ByteBuffer b, int at, int max) {
        int end = at;
        while (end < at + max && b.get(end) != 0) {
            end++;
        }
        byte[] s = new byte[end - at];
        b.get(at, s);
        return new String(s, StandardCharsets.UTF_8);
    }
}
