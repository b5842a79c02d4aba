package dev.zenith.server.pageservice;

import dev.zenith.storage.Store;
import dev.zenith.storage.page.PageSource;
import dev.zenith.storage.timeline.TimelineId;

/**
 * The storage ("tenant") and timeline a page stream reads, where its answers come from, and the cache of
 * its timeline's bounds.
 */
record PageTarget(String storageName, Store store, TimelineId timeline, PageSource source, BoundsCache.Entry bounds) {
}
