package dev.zenith.objectstore;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;

/**
 * A real store with a test's hook around each call: every call still goes to the real server (the
 * hook decides when: it may act before it, e.g. stop the server, or change what the caller is told
 * after it, e.g. lose the answer of a PUT that did land). Calls are recorded for assertions.
 */
public final class Interposed {
    /** One call: its method name and arguments. */
    public record Call(String method, Object[] args) {
    }

    public interface Hook {
        /** Answers the call: usually {@code real.get()} (the real call) with something done before or after it. */
        CompletableFuture<?> around(Call call, Supplier<CompletableFuture<?>> real);
    }

    /** Every call passed through as is (only recorded). */
    public static final Hook PASS = (call, real) -> real.get();

    private Interposed() {
    }

    public static ObjectStore wrap(ObjectStore real, List<Call> calls, Hook hook) {
        return (ObjectStore) Proxy.newProxyInstance(ObjectStore.class.getClassLoader(), new Class<?>[]{ObjectStore.class},
                (proxy, method, args) -> {
                    Call call = new Call(method.getName(), args == null ? new Object[0] : args);
                    calls.add(call);
                    if (!CompletableFuture.class.isAssignableFrom(method.getReturnType())) {
                        return invoke(real, method, args); // describe, close
                    }
                    return hook.around(call, () -> (CompletableFuture<?>) invoke(real, method, args));
                });
    }

    public static List<Call> newLog() {
        return new CopyOnWriteArrayList<>();
    }

    private static Object invoke(ObjectStore real, Method method, Object[] args) {
        try {
            return method.invoke(real, args);
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(e.getCause());
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }
}
