package dev.zenith.protocol.server;

import dev.zenith.protocol.wire.BackendMessage;
import dev.zenith.protocol.wire.BackendMessage.*;
import dev.zenith.wal.Lsn;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The replies a PostgreSQL 15 walsender gives to each replication command, with the same column
 * names, type OIDs, sizes and modifiers and the same command tags (checked byte for byte against a
 * real server). ReadyForQuery is not included: the session sends it after each command.
 */
public final class ReplicationResponses {
    public static final int TEXT = 25;
    public static final int INT4 = 23;
    public static final int INT8 = 20;

    private ReplicationResponses() {
    }

    private static Field column(String name, int typeOid) {
        short size = (short) (typeOid == INT4 ? 4 : typeOid == INT8 ? 8 : -1);
        return new Field(name, 0, (short) 0, typeOid, size, -1, (short) 0);
    }

    private static String text(Object o) {
        return o == null ? null : o.toString();
    }

    private static List<BackendMessage> result(List<Field> fields, String tag, String... row) {
        return List.of(new RowDescription(fields), DataRow.ofText(row), new CommandComplete(tag));
    }

    /** {@code dbname} is null on a physical replication connection. */
    public static List<BackendMessage> identifySystem(String systemId, int timeline, Lsn xlogPos, String dbname) {
        return result(List.of(column("systemid", TEXT), column("timeline", INT4), column("xlogpos", TEXT),
                column("dbname", TEXT)), "IDENTIFY_SYSTEM", systemId, Integer.toUnsignedString(timeline),
                xlogPos.toString(), dbname);
    }

    public static List<BackendMessage> show(String name, String value) {
        return result(List.of(column(name, TEXT)), "SHOW", value);
    }

    public static List<BackendMessage> createReplicationSlot(String slotName, Lsn consistentPoint, String snapshotName,
                                                             String outputPlugin) {
        return result(List.of(column("slot_name", TEXT), column("consistent_point", TEXT),
                column("snapshot_name", TEXT), column("output_plugin", TEXT)), "CREATE_REPLICATION_SLOT",
                slotName, text(consistentPoint), snapshotName, outputPlugin);
    }

    /** For a slot that does not exist pass nulls: PostgreSQL answers a row of NULLs. */
    public static List<BackendMessage> readReplicationSlot(String slotType, Lsn restartLsn, Integer restartTli) {
        return result(List.of(column("slot_type", TEXT), column("restart_lsn", TEXT), column("restart_tli", INT8)),
                "READ_REPLICATION_SLOT", slotType, text(restartLsn),
                restartTli == null ? null : Integer.toUnsignedString(restartTli));
    }

    public static List<BackendMessage> dropReplicationSlot() {
        return List.of(new CommandComplete("DROP_REPLICATION_SLOT"));
    }

    /** The history file of {@code timeline} ({@code %08X.history}); PostgreSQL sends type modifier 0 here. */
    public static List<BackendMessage> timelineHistory(int timeline, byte[] content) {
        Field filename = new Field("filename", 0, (short) 0, TEXT, (short) -1, 0, (short) 0);
        Field body = new Field("content", 0, (short) 0, TEXT, (short) -1, 0, (short) 0);
        List<byte[]> row = new ArrayList<>();
        row.add(String.format("%08X.history", timeline).getBytes(StandardCharsets.UTF_8));
        row.add(Arrays.copyOf(content, content.length));
        return List.of(new RowDescription(List.of(filename, body)), new DataRow(row), new CommandComplete("TIMELINE_HISTORY"));
    }

    /** The answer to START_REPLICATION: streaming begins. */
    public static CopyBothResponse startStreaming() {
        return new CopyBothResponse((byte) 0, List.of());
    }

    /**
     * After both sides sent CopyDone at the end of a historic timeline: the next timeline and where
     * it starts, then the START_STREAMING tag.
     */
    public static List<BackendMessage> endOfTimeline(int nextTimeline, Lsn nextTimelineStart) {
        List<BackendMessage> l = new ArrayList<>(result(List.of(column("next_tli", INT8),
                        column("next_tli_startpos", TEXT)), "START_STREAMING",
                Integer.toUnsignedString(nextTimeline), nextTimelineStart.toString()));
        l.add(new CommandComplete("START_REPLICATION"));
        return l;
    }

    /**
     * The end of a START_REPLICATION on the current timeline, after the client's CopyDone and our
     * CopyDone: PostgreSQL completes both the streaming and the command.
     */
    public static List<BackendMessage> endOfStreaming() {
        return List.of(new CommandComplete("START_STREAMING"), new CommandComplete("START_REPLICATION"));
    }
}
