import { readdir, readFile, readlink } from "node:fs/promises";

export interface ListeningSocket {
  /** As the kernel reports it: "127.0.0.1", "0.0.0.0", "::", "::1"… */
  address: string;
  port: number;
}

/** A /proc/net/tcp{,6} address: 32-bit words in host (little-endian) byte order, then the port in hex. */
function decode(hex: string): ListeningSocket {
  const [ip = "", port = ""] = hex.split(":");
  const bytes = (ip.match(/.{8}/g) ?? []).flatMap((word) =>
    (word.match(/../g) ?? []).reverse().map((b) => Number.parseInt(b, 16)),
  );
  const address =
    bytes.length === 4
      ? bytes.join(".")
      : bytes.every((b) => b === 0)
        ? "::"
        : bytes.slice(0, 15).every((b) => b === 0) && bytes[15] === 1
          ? "::1"
          : Array.from({ length: 8 }, (_, i) =>
              (((bytes[2 * i] as number) << 8) | (bytes[2 * i + 1] as number)).toString(16),
            ).join(":");
  return { address, port: Number.parseInt(port, 16) };
}

/**
 * Every TCP socket that process `pid` listens on, read from the kernel (Linux /proc): the process's socket
 * inodes, matched against the listening entries (state 0A) of /proc/net/tcp and tcp6. Sees every listener the
 * process opened, including ones made by libraries.
 */
export async function listeningSockets(pid: number): Promise<ListeningSocket[]> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode) inodes.add(inode);
  }
  const found: ListeningSocket[] = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const lines = (await readFile(table, "utf8").catch(() => "")).split("\n").slice(1);
    for (const line of lines) {
      const cols = line.trim().split(/\s+/);
      // sl, local_address, rem_address, st, tx:rx, tr:when, retrnsmt, uid, timeout, inode
      if (cols[3] === "0A" && inodes.has(cols[9] ?? "")) found.push(decode(cols[1] ?? ""));
    }
  }
  return found;
}

/** Every TCP port anything on this machine listens on (this network namespace), by /proc/net/tcp{,6}. */
export async function listeningPorts(): Promise<Set<number>> {
  const ports = new Set<number>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const lines = (await readFile(table, "utf8").catch(() => "")).split("\n").slice(1);
    for (const line of lines) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === "0A") ports.add(decode(cols[1] ?? "").port);
    }
  }
  return ports;
}

/** The processes whose parent is `pid` (Linux /proc). */
export async function childrenOf(pid: number): Promise<number[]> {
  const children: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    // pid (comm) state ppid …: comm may hold spaces and parentheses, so read after the last ")".
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (ppid === pid) children.push(Number(entry));
  }
  return children;
}

/** Whether process `pid` exists (a zombie, dead but not yet reaped by its parent, counts as gone). */
export async function isAlive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  return stat !== "" && stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
}
