/**
 * The benchmark's TCP listener and UDP echo on 127.0.0.1, in a process of
 * their own so that their work is not counted as the checker's. Prints
 * `{"tcp":PORT,"udp":PORT}` once both listen.
 *
 * @example
 * ```sh
 * ./netmon --deno run -A bench/echo_server.ts
 * ```
 *
 * @module
 */
import dgram from "node:dgram";

const tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const udp = dgram.createSocket("udp4");
udp.on("message", (msg, rinfo) => udp.send(msg, rinfo.port, rinfo.address));
await new Promise<void>((resolve) => udp.bind(0, "127.0.0.1", resolve));
console.log(JSON.stringify({ tcp: tcp.addr.port, udp: udp.address().port }));
for await (const conn of tcp) {
  // a TCP check only needs the handshake: close at once, as a port scanner's target would
  conn.close();
}
