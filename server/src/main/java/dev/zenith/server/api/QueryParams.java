package dev.zenith.server.api;

import io.vertx.ext.web.RoutingContext;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;

/** A request's query parameters read as values, a bad one a 400 naming it. */
final class QueryParams {
    private QueryParams() {
    }

    static Instant instant(RoutingContext ctx, String name) {
        String v = ctx.queryParams().get(name);
        if (v == null) {
            return null;
        }
        try {
            return OffsetDateTime.parse(v).toInstant();
        } catch (DateTimeParseException e) {
            throw ApiException.badRequest("query parameter '" + name + "' is not an ISO-8601 time with a zone: '" + v + "'");
        }
    }

    static int integer(RoutingContext ctx, String name, int dflt, int min, int max) {
        String v = ctx.queryParams().get(name);
        if (v == null) {
            return dflt;
        }
        try {
            int n = Integer.parseInt(v);
            if (n >= min && n <= max) {
                return n;
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw ApiException.badRequest("query parameter '" + name + "' must be a whole number from " + min + " to " + max);
    }
}
