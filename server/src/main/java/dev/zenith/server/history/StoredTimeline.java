package dev.zenith.server.history;

import dev.zenith.storage.timeline.Timeline;

/** A timeline of an attached storage, as {@code zenith tree} and a page-service client see it. */
public record StoredTimeline(String storageName, Timeline timeline) {
}
