package dev.zenith.server.api;

import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.HostAndPort;
import io.vertx.ext.web.Route;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Who may use the REST API. Loopback is shared by every local user and every web page a browser opens,
 * so each request must:
 * <ul>
 * <li>name this daemon in its Host header (a loopback name or the configured address): a DNS rebinding
 *     page reaches 127.0.0.1 under its own name;</li>
 * <li>carry no Origin but this API's own (a page's cross-site request, CSRF);</li>
 * <li>send its body as {@code application/json} (a page's "simple" cross-site POST is text/plain or a form);</li>
 * <li>carry the token of ZENITH_HOME/api-token as {@code Authorization: Bearer} (another local user).</li>
 * </ul>
 * OPTIONS is answered with the methods a path has, and no CORS grant. Only {@code GET /health} needs no token.
 */
public final class RequestGuard {
    public static final String HEALTH_PATH = "/health";
    private static final Set<String> LOOPBACK_NAMES = Set.of("localhost", "127.0.0.1", "::1", "[::1]");
    private static final Pattern BEARER = Pattern.compile("(?i)bearer +(\\S+) *");

    private final byte[] token;
    private final Set<String> hostNames;
    private final String scheme;

    /** {@code configuredHost}: http.host; {@code scheme}: http, or https when the API is served over TLS. */
    public RequestGuard(String token, String configuredHost, String scheme) {
        this.token = token.getBytes(StandardCharsets.UTF_8);
        Set<String> names = new java.util.HashSet<>(LOOPBACK_NAMES);
        String configured = configuredHost.toLowerCase(Locale.ROOT);
        names.add(configured);
        if (configured.contains(":") && !configured.startsWith("[")) {
            names.add("[" + configured + "]"); // an IPv6 address as a Host header writes it
        }
        this.hostNames = Set.copyOf(names);
        this.scheme = scheme;
    }

    /** The checks a browser's request meets first; install before every route of {@code router}. */
    void install(Router router) {
        router.route().handler(this::checkHost);
        router.route().handler(this::checkOrigin);
        router.route().method(HttpMethod.OPTIONS).handler(ctx -> options(router, ctx));
    }

    /** The token and the body's type: after the home check, which must answer a CLI of another home first. */
    void installAuthentication(Router router) {
        router.route().handler(this::checkContentType);
        router.route().handler(this::checkToken);
    }

    private void checkHost(RoutingContext ctx) {
        HostAndPort authority = ctx.request().authority();
        String host = authority == null ? null : authority.host().toLowerCase(Locale.ROOT);
        if (host == null || !hostNames.contains(host)) {
            refuse(ctx, 403, "Host " + (authority == null ? "(none)" : "'" + authority + "'") + " is not this zenith's"
                    + " address; use one of " + new TreeSet<>(hostNames));
            return;
        }
        ctx.next();
    }

    private void checkOrigin(RoutingContext ctx) {
        String origin = ctx.request().getHeader(HttpHeaders.ORIGIN);
        if (origin != null && !isOwnOrigin(origin, ctx.request())) {
            refuse(ctx, 403, "requests from web pages of other origins (" + origin + ") are refused");
            return;
        }
        ctx.next();
    }

    /** This API's own origin: same scheme, a name of ours, the port the request came to. */
    private boolean isOwnOrigin(String origin, HttpServerRequest request) {
        try {
            URI u = new URI(origin);
            if (u.getHost() == null || !scheme.equalsIgnoreCase(u.getScheme())) {
                return false;
            }
            int port = u.getPort() >= 0 ? u.getPort() : scheme.equals("https") ? 443 : 80;
            String host = u.getHost().toLowerCase(Locale.ROOT);
            return hostNames.contains(host) && port == request.localAddress().port();
        } catch (URISyntaxException e) {
            return false;
        }
    }

    /** OPTIONS: which methods the path has ({@code Allow}), and no Access-Control-Allow-* for anyone. */
    private void options(Router router, RoutingContext ctx) {
        Set<String> methods = new TreeSet<>();
        String path = ctx.request().path();
        for (Route route : router.getRoutes()) {
            Set<HttpMethod> routeMethods = route.methods();
            if (routeMethods == null || routeMethods.isEmpty() || route.getPath() == null || !matches(route.getPath(), path)) {
                continue;
            }
            routeMethods.forEach(m -> methods.add(m.name()));
        }
        methods.remove(HttpMethod.OPTIONS.name());
        if (methods.isEmpty()) {
            refuse(ctx, 404, "no such endpoint: " + path);
            return;
        }
        methods.add(HttpMethod.OPTIONS.name());
        ctx.response().setStatusCode(204).putHeader(HttpHeaders.ALLOW, String.join(", ", methods)).end();
    }

    /** Whether a route path like {@code /pgs/:name/actions} matches a request path. */
    static boolean matches(String routePath, String path) {
        String[] want = routePath.split("/", -1);
        String[] got = path.split("/", -1);
        if (want.length != got.length) {
            return false;
        }
        for (int i = 0; i < want.length; i++) {
            if (!(want[i].startsWith(":") ? !got[i].isEmpty() : want[i].equals(got[i]))) {
                return false;
            }
        }
        return true;
    }

    private void checkContentType(RoutingContext ctx) {
        HttpServerRequest r = ctx.request();
        String type = r.getHeader(HttpHeaders.CONTENT_TYPE);
        String length = r.getHeader(HttpHeaders.CONTENT_LENGTH);
        boolean hasBody = type != null || r.getHeader(HttpHeaders.TRANSFER_ENCODING) != null
                || (length != null && !length.trim().equals("0"));
        if (hasBody && !isJson(type)) {
            refuse(ctx, 415, "request bodies must be JSON with 'Content-Type: application/json'"
                    + (type == null ? "" : ", not '" + type + "'"));
            return;
        }
        ctx.next();
    }

    private static boolean isJson(String contentType) {
        return contentType != null
                && contentType.split(";", 2)[0].trim().toLowerCase(Locale.ROOT).equals("application/json");
    }

    private void checkToken(RoutingContext ctx) {
        if (ctx.request().method() == HttpMethod.GET && ctx.request().path().equals(HEALTH_PATH)) {
            ctx.next();
            return;
        }
        String header = ctx.request().getHeader(HttpHeaders.AUTHORIZATION);
        var m = header == null ? null : BEARER.matcher(header);
        if (m == null || !m.matches()
                || !MessageDigest.isEqual(token, m.group(1).getBytes(StandardCharsets.UTF_8))) {
            ctx.response().putHeader("WWW-Authenticate", "Bearer realm=\"zenith\"");
            refuse(ctx, 401, (header == null ? "no token" : "wrong token") + ": send 'Authorization: Bearer TOKEN',"
                    + " TOKEN being the first line of ZENITH_HOME/api-token");
            return;
        }
        ctx.next();
    }

    private static void refuse(RoutingContext ctx, int status, String message) {
        ctx.response().setStatusCode(status).putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                .end(new JsonObject().put("error", message).encodePrettily() + "\n");
    }
}
