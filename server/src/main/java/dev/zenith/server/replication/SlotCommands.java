package dev.zenith.server.replication;

import dev.zenith.protocol.replication.ReplicationCommand.CreateReplicationSlot;
import dev.zenith.protocol.replication.ReplicationCommand.DropReplicationSlot;
import dev.zenith.protocol.replication.ReplicationCommand.ReadReplicationSlot;
import dev.zenith.protocol.server.ReplicationResponses;
import dev.zenith.protocol.wire.ErrorFields;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.PgTimelines;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;

/**
 * A replication connection's slot commands (READ_, CREATE_ and DROP_REPLICATION_SLOT) answered as
 * PostgreSQL 15 answers them, against the slots of the connection's timeline. On the connection's event
 * loop; the store is read on a worker ({@link ReplicationConnection#answerWith}).
 */
final class SlotCommands {
    private final ReplicationConnection conn;
    private final ReplicationConnection.Services services;
    /** The process id the connection announced: a slot's user is named by it. */
    private final int pid;

    SlotCommands(ReplicationConnection conn, ReplicationConnection.Services services, int pid) {
        this.conn = conn;
        this.services = services;
        this.pid = pid;
    }

    private Store store() {
        return conn.target().store();
    }

    private TimelineId tl() {
        return conn.target().timeline().id();
    }

    /**
     * PostgreSQL 15's answer: the slot's type, restart LSN and the PostgreSQL timeline that LSN lies on in
     * this timeline's history; a row of nulls for no such slot, and null LSN and timeline for a slot that
     * reserved no WAL yet.
     */
    void read(ReadReplicationSlot r) {
        var slot = services.slots().find(tl(), r.slotName());
        if (slot.isEmpty() || !slot.get().restartLsn().isValid()) {
            conn.reply(ReplicationResponses.readReplicationSlot(slot.isEmpty() ? null : "physical", null, null));
            return;
        }
        Lsn restart = slot.get().restartLsn();
        conn.answerWith(() -> PgTimelines.tliAt(store().pgTimelines().entries(tl()), restart),
                tli -> conn.reply(ReplicationResponses.readReplicationSlot("physical", restart, tli)));
    }

    void create(CreateReplicationSlot c) {
        if (c.logical()) {
            conn.error("0A000", "zenith does not support logical replication slots");
            return;
        }
        var invalid = ReplicationSlots.checkName(c.slotName());
        if (invalid.isPresent()) {
            ErrorFields f = ErrorFields.of("ERROR", invalid.get().sqlState(), invalid.get().message());
            conn.error(invalid.get().hint() == null ? f : f.with(ErrorFields.HINT, invalid.get().hint()));
            return;
        }
        conn.answerWith(() -> {
            Lsn restart = c.reserveWal() ? store().wal().end(tl()).orElseThrow() : Lsn.INVALID;
            return services.slots().create(tl(), c.slotName(), c.temporary(), restart, conn, pid, store());
        }, created -> {
            if (!created) {
                conn.error("42710", "replication slot \"" + c.slotName() + "\" already exists");
                return;
            }
            // A physical slot's consistent point is 0/0, as PostgreSQL reports it.
            conn.reply(ReplicationResponses.createReplicationSlot(c.slotName(), Lsn.INVALID, null, null));
        });
    }

    /** As PostgreSQL: a slot another connection uses is refused, or with WAIT dropped once it is released. */
    void drop(DropReplicationSlot d) {
        if (conn.isClosed()) {
            return;
        }
        conn.answerWith(() -> services.slots().drop(tl(), d.slotName(), conn), outcome -> {
            if (outcome.dropped()) {
                conn.reply(ReplicationResponses.dropReplicationSlot());
            } else if (outcome.activePid() == null) {
                conn.error("42704", "replication slot \"" + d.slotName() + "\" does not exist");
            } else if (d.waitForRelease()) {
                services.slots().whenReleased(tl(), d.slotName(), conn, () -> conn.runOnContext(() -> drop(d)));
            } else {
                conn.error("55006", "replication slot \"" + d.slotName() + "\" is active for PID " + outcome.activePid());
            }
        });
    }
}
