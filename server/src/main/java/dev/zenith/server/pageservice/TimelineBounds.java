package dev.zenith.server.pageservice;

import dev.zenith.wal.Lsn;

/**
 * What LSNs a timeline can answer right now: from its retention horizon (its lineage's oldest image;
 * null when it has none) to the end of its last complete WAL record in the store ({@code end}).
 * {@code stored} is where its stored WAL ends (at or after {@code end}: alignment, or part of a record
 * still arriving); any LSN up to it is reached, and has the state of {@code end}. {@code growing} when a
 * running primary writes it, so that both will move on.
 */
record TimelineBounds(Lsn horizon, Lsn end, Lsn stored, boolean growing) {
}
