package dev.zenith.server.replication;

import dev.zenith.server.storages.StorageRegistry;
import dev.zenith.storage.Store;
import dev.zenith.storage.meta.DocumentStore;
import dev.zenith.storage.timeline.Timeline;
import dev.zenith.storage.timeline.TimelineId;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Which timeline a replication connection means, from the {@code options} startup parameter:
 * {@code -c zenith.pg=<pg name>} (that compute's timeline), {@code -c zenith.timeline=<timeline id>}
 * (searched in every attached storage, or only in {@code -c zenith.storage=<name>}), or nothing: the
 * main timeline of storage {@code local}. Blocking (reads the store): call from a worker thread.
 */
final class TimelineSelector {

    /** The resolved target of a connection; {@code pgName} when it was chosen by pg name (it follows the pg). */
    record Target(String storageName, Store store, Timeline timeline, String pgName) {
    }

    /** A connection for nothing we serve; the message goes to the client in a FATAL ErrorResponse. */
    static final class UnknownTimelineException extends Exception {
        UnknownTimelineException(String message) {
            super(message);
        }
    }

    private final StorageRegistry storages;
    private final ComputeTimelines computes;

    TimelineSelector(StorageRegistry storages, ComputeTimelines computes) {
        this.storages = storages;
        this.computes = computes;
    }

    private static final String PG = "zenith.pg";
    private static final String TIMELINE = "zenith.timeline";
    private static final String STORAGE = "zenith.storage";
    /** The settings this selector reads; other zenith* names are refused, others (application_name...) ignored. */
    private static final java.util.Set<String> KNOWN = java.util.Set.of(PG, TIMELINE, STORAGE);

    Target select(String options) throws UnknownTimelineException {
        Map<String, String> settings = settings(options);
        for (String name : settings.keySet()) {
            // a misspelt selector (--zenith-pg=x is zenith_pg, as PostgreSQL reads it) must not quietly mean main
            if (name.startsWith("zenith") && !KNOWN.contains(name)) {
                throw new UnknownTimelineException("unrecognized configuration parameter \"" + name
                        + "\" (expected -c zenith.pg=NAME, -c zenith.timeline=ID or -c zenith.storage=NAME)");
            }
        }
        String pgName = settings.get(PG);
        String timelineText = settings.get(TIMELINE);
        String storageName = settings.get(STORAGE);
        if (pgName != null) {
            return ofPg(pgName);
        }
        if (timelineText != null) {
            TimelineId id;
            try {
                id = TimelineId.parse(timelineText);
            } catch (RuntimeException e) {
                throw new UnknownTimelineException("invalid timeline id \"" + timelineText + "\" (32 hex digits expected)");
            }
            for (StorageRegistry.Storage s : storages.list()) {
                if ((storageName == null || s.name().equals(storageName)) && s.store().timelines().get(id).isPresent()) {
                    return target(s.name(), id);
                }
            }
            throw new UnknownTimelineException("timeline " + timelineText + " does not exist"
                    + (storageName == null ? "" : " in storage \"" + storageName + "\""));
        }
        String name = storageName == null ? StorageRegistry.DEFAULT_STORAGE : storageName;
        StorageRegistry.Storage storage = storages.find(name).orElseThrow(() ->
                new UnknownTimelineException("storage \"" + name + "\" is not attached"));
        TimelineId main = storage.store().documents().get(DocumentStore.MAIN_TIMELINE_KEY)
                .map(b -> TimelineId.parse(new String(b, StandardCharsets.UTF_8)))
                .orElseThrow(() -> new UnknownTimelineException("storage \"" + name
                        + "\" has no cluster yet (create a pg on it first)"));
        return target(name, main);
    }

    /** The timeline pg {@code pgName} is on now. */
    Target ofPg(String pgName) throws UnknownTimelineException {
        ComputeTimelines.TimelineRef ref = computes.timelineOf(pgName).orElseThrow(() ->
                new UnknownTimelineException("pg \"" + pgName + "\" does not exist or has no timeline yet"));
        Target t = target(ref.storageName(), ref.timeline());
        return new Target(t.storageName(), t.store(), t.timeline(), pgName);
    }

    private Target target(String storageName, TimelineId id) throws UnknownTimelineException {
        StorageRegistry.Storage storage = storages.find(storageName).orElseThrow(() ->
                new UnknownTimelineException("storage \"" + storageName + "\" is not attached"));
        Timeline tl = storage.store().timelines().get(id).orElseThrow(() ->
                new UnknownTimelineException("timeline " + id + " does not exist in storage \"" + storageName + "\""));
        if (storage.store().wal().end(id).isEmpty()) {
            throw new UnknownTimelineException("timeline " + id + " has no WAL yet");
        }
        return new Target(storageName, storage.store(), tl, null);
    }

    /** {@code -c name=value}, {@code -cname=value} and {@code --name=value} settings of an options string. */
    static Map<String, String> settings(String options) throws UnknownTimelineException {
        Map<String, String> out = new LinkedHashMap<>();
        if (options == null || options.isBlank()) {
            return out;
        }
        String[] words = options.trim().split("\\s+");
        for (int i = 0; i < words.length; i++) {
            String w = words[i];
            String setting;
            if (w.equals("-c") && i + 1 < words.length) {
                setting = words[++i];
            } else if (w.startsWith("-c")) {
                setting = w.substring(2);
            } else if (w.startsWith("--")) {
                setting = w.substring(2);
            } else {
                throw new UnknownTimelineException("cannot parse startup options \"" + options
                        + "\" (expected -c zenith.pg=NAME or -c zenith.timeline=ID)");
            }
            int eq = setting.indexOf('=');
            if (eq <= 0) {
                throw new UnknownTimelineException("startup option \"" + setting + "\" has no value");
            }
            out.put(setting.substring(0, eq).replace('-', '_').toLowerCase(java.util.Locale.ROOT), setting.substring(eq + 1));
        }
        return out;
    }
}
