import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { contentTypes, sniffFormat } from "../../lib/images/types.ts";

export interface ImageHost {
  /** http://127.0.0.1:PORT: what the examples' public hosts become. */
  origin: string;
  /** Paths requested so far, in order. */
  requested: string[];
  close(): Promise<void>;
}

/**
 * Stands in for the public hosts that documentation examples name (images.pexels.com, example.com…): serves the
 * given images by path, on loopback, whatever host the example had. Unknown paths are a 404.
 */
export async function startImageHost(files: Readonly<Record<string, Buffer>>): Promise<ImageHost> {
  const requested: string[] = [];
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://host").pathname;
    requested.push(path);
    const body = files[path];
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    const format = sniffFormat(body);
    res.writeHead(200, {
      "content-type": format ? contentTypes[format] : "application/octet-stream",
      "content-length": body.length,
    });
    res.end(body);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requested,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
