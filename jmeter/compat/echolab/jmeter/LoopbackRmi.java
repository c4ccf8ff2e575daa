package echolab.jmeter;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.rmi.server.RMISocketFactory;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A Java agent that keeps JMeter's RMI (distributed mode, {@code -R}) on one loopback address.
 *
 * <p>JMeter creates its RMI registry and exports its engines with the JVM's default socket
 * factory, which listens on every address (0.0.0.0). Loaded with
 * {@code -javaagent:echolab-loopback-rmi.jar=127.0.0.2}, this agent installs a factory that
 * listens only on the given address, which must be a loopback one, and refuses to connect to
 * anything but a loopback address. It also sets {@code java.rmi.server.hostname} to that address
 * (the address the stubs tell peers to call back on). A JMeter server looks its own registry up
 * on the local host (127.0.0.1), where nothing listens now: a connection to a port this JVM
 * listens on goes to this JVM's own address instead. Used by scripts/jmeter-distributed.sh.
 */
public final class LoopbackRmi {
    private LoopbackRmi() {}

    public static void premain(String arg) throws IOException {
        if (arg == null || arg.isEmpty()) {
            throw new IllegalArgumentException("echolab LoopbackRmi: give the address, -javaagent:JAR=127.0.0.2");
        }
        final InetAddress bind = InetAddress.getByName(arg);
        if (!bind.isLoopbackAddress()) {
            throw new IllegalArgumentException("echolab LoopbackRmi: " + arg + " is not a loopback address");
        }
        System.setProperty("java.rmi.server.hostname", bind.getHostAddress());
        final Set<Integer> own = ConcurrentHashMap.newKeySet();
        RMISocketFactory.setSocketFactory(new RMISocketFactory() {
            @Override
            public ServerSocket createServerSocket(int port) throws IOException {
                ServerSocket s = new ServerSocket(port, 50, bind);
                own.add(s.getLocalPort());
                return s;
            }

            @Override
            public Socket createSocket(String host, int port) throws IOException {
                InetAddress to = InetAddress.getByName(host);
                if (!to.isLoopbackAddress()) {
                    throw new IOException("echolab LoopbackRmi: refusing RMI to " + host + " (not loopback)");
                }
                return new Socket(own.contains(port) ? bind : to, port);
            }
        });
    }
}
