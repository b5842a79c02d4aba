package dev.zenith.wal.testing;

import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelFileNode;
import dev.zenith.wal.RelTag;
import dev.zenith.wal.bytes.LittleEndian;
import dev.zenith.wal.change.DatabaseDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/** Relation fork sizes and database directories of a data directory, read from its files (test helper). */
public final class RelationFiles {
    private static final Pattern FILE = Pattern.compile("^(\\d+)(_fsm|_vm|_init)?(?:\\.(\\d+))?$");

    private RelationFiles() {
    }

    /** A directory's forks (blocks per fork, segments summed), database directories and pg_control's checkpoint. */
    public record State(Map<RelTag, Long> forks, Set<DatabaseDir> databases, Lsn checkpoint) {
        public static State of(Path dataDir) throws IOException {
            Map<RelTag, Long> forks = new HashMap<>();
            Set<DatabaseDir> dbs = new HashSet<>();
            scan(dataDir.resolve("global"), new DatabaseDir(RelFileNode.GLOBAL_TABLESPACE, 0), forks);
            try (Stream<Path> s = Files.list(dataDir.resolve("base"))) {
                for (Path db : (Iterable<Path>) s::iterator) {
                    if (!db.getFileName().toString().matches("\\d+")) {
                        continue; // pgsql_tmp
                    }
                    DatabaseDir d = new DatabaseDir(RelFileNode.DEFAULT_TABLESPACE, Integer.parseInt(db.getFileName().toString()));
                    dbs.add(d);
                    scan(db, d, forks);
                }
            }
            byte[] control = Files.readAllBytes(dataDir.resolve("global/pg_control"));
            return new State(forks, dbs, Lsn.of(LittleEndian.i64(control, 32)));
        }
    }

    private static void scan(Path dir, DatabaseDir db, Map<RelTag, Long> forks) {
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Matcher m = FILE.matcher(f.getFileName().toString());
                if (!m.matches()) {
                    continue;
                }
                ForkNumber fork = switch (m.group(2) == null ? "" : m.group(2)) {
                    case "_fsm" -> ForkNumber.FSM;
                    case "_vm" -> ForkNumber.VISIBILITY_MAP;
                    case "_init" -> ForkNumber.INIT;
                    default -> ForkNumber.MAIN;
                };
                RelTag tag = RelTag.of(db.spcOid(), db.dbOid(), Integer.parseUnsignedInt(m.group(1)), fork);
                forks.merge(tag, Files.size(f) / 8192, Long::sum);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
