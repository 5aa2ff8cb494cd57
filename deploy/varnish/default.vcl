# Varnish in front of Bezel (README "Caching at the edge"): caches only what Bezel marks public, for as long
# as Bezel says; serves it stale while it revalidates (stale-while-revalidate) and while Bezel fails
# (stale-if-error, Bezel's /healthz probed); drops it when Bezel purges its keys (xkey, from the gateways
# only); passes everything else. Needs Debian's varnish (7.x) and varnish-modules (vmod xkey).
#
# Bezel: [edge] provider = "varnish", purge_url = "http://<this varnish>:6081". The backend below is where
# the gateways are reached; `purgers` are the addresses they purge from.
vcl 4.1;

import std;
import xkey;

backend bezel {
    .host = "127.0.0.1";
    .port = "8000";
    .connect_timeout = 1s;
    .first_byte_timeout = 10s;  # above [gateway] budget_ms: Bezel answers within its own budget
    .probe = {
        .url = "/healthz";
        .interval = 1s;
        .timeout = 1s;
        .window = 3;
        .threshold = 2;
    }
}

# Who may purge: the gateways (on Kubernetes, the pods' network, e.g. "10.0.0.0"/8).
acl purgers {
    "127.0.0.1";
    "::1";
}

sub vcl_recv {
    if (req.method == "PURGE") {
        if (client.ip !~ purgers) {
            return (synth(403, "Forbidden"));
        }
        if (!req.http.xkey) {
            return (synth(400, "Name the keys in xkey"));
        }
        # A hard purge: the next request asks Bezel (a soft one would be served stale while it revalidates).
        return (synth(200, "Purged " + xkey.purge(req.http.xkey)));
    }
    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }
    # Only GraphQL answers by GET may be public (Bezel says which); the rest of the site passes.
    if (req.url !~ "^/graphql\?") {
        return (pass);
    }
    if (req.http.Authorization) {
        return (pass);
    }
    unset req.http.Cookie;  # Bezel's answers do not read cookies
    if (req.http.x-bezel-revalidate) {
        set req.grace = 0s;  # restarted from vcl_hit: only a fresh object will do
    }
    return (hash);
}

sub vcl_hit {
    if (obj.ttl >= 0s) {
        return (deliver);
    }
    # Past max-age. Bezel failing: serve it as long as its stale-if-error lets (the object's grace).
    if (!std.healthy(req.backend_hint)) {
        return (deliver);
    }
    # Bezel healthy: stale only within stale-while-revalidate, while a background fetch refreshes it.
    if (obj.ttl + std.duration(obj.http.x-bezel-swr, 0s) > 0s) {
        return (deliver);
    }
    set req.http.x-bezel-revalidate = "1";
    return (restart);
}

sub vcl_backend_response {
    if (beresp.http.Cache-Control !~ "(^|[ ,])public([ ,]|$)" || beresp.status != 200) {
        if (bereq.is_bgfetch && beresp.status >= 500) {
            return (abandon);  # keep serving the stale object (stale-if-error)
        }
        # Private (the shopper's own, an error, scarce stock): never stored. Hit-for-miss, so the next
        # request is not queued behind this one and may be cached again once Bezel says public.
        set beresp.uncacheable = true;
        set beresp.ttl = 30s;
        return (deliver);
    }
    # max-age is beresp.ttl already (Varnish reads Cache-Control). Grace is the longer of the two windows;
    # vcl_hit tells them apart.
    set beresp.http.x-bezel-swr = regsub(beresp.http.Cache-Control, "^.*stale-while-revalidate=([0-9]+).*$", "\1s");
    set beresp.http.x-bezel-sie = regsub(beresp.http.Cache-Control, "^.*stale-if-error=([0-9]+).*$", "\1s");
    if (beresp.http.x-bezel-swr !~ "^[0-9]+s$") {
        set beresp.http.x-bezel-swr = "0s";
    }
    if (beresp.http.x-bezel-sie !~ "^[0-9]+s$") {
        set beresp.http.x-bezel-sie = "0s";
    }
    if (std.duration(beresp.http.x-bezel-sie, 0s) > std.duration(beresp.http.x-bezel-swr, 0s)) {
        set beresp.grace = std.duration(beresp.http.x-bezel-sie, 0s);
    } else {
        set beresp.grace = std.duration(beresp.http.x-bezel-swr, 0s);
    }
    set beresp.keep = 0s;
    return (deliver);
}

sub vcl_backend_error {
    if (bereq.is_bgfetch) {
        return (abandon);
    }
}

sub vcl_deliver {
    if (obj.uncacheable) {
        set resp.http.x-cache = "PASS";
    } elsif (obj.hits > 0) {
        set resp.http.x-cache = "HIT";
    } else {
        set resp.http.x-cache = "MISS";
    }
    unset resp.http.x-bezel-swr;
    unset resp.http.x-bezel-sie;
    unset resp.http.xkey;
}
