import { Console } from "node:console";
import { Writable } from "node:stream";
import { Logger as PowertoolsLogger } from "@aws-lambda-powertools/logger";

// Structured logs: JSON lines in Lambda through Powertools Logger (CloudWatch and Logs Insights read them; the
// Lambda context and X-Ray trace id join every line), readable lines in the sandbox.
// Every line passes through redact(), so a secret that reaches a message or a field is masked.

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
type Fields = Record<string, unknown>;

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

export interface Logger {
  debug(message: string, fields?: Fields): void;
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
  child(fields: Fields): Logger;
}

export interface LoggerOptions {
  level: LogLevel;
  format: "json" | "pretty";
  service: string;
  secrets?: readonly string[];
  write?: (line: string) => void;
}

// Provider keys (sk-...), our own keys (sk-img-...), bearer tokens and presigned signatures.
const secretPatterns: RegExp[] = [
  /\bsk-[A-Za-z0-9_*-]{8,}/g,
  /\bBearer\s+[A-Za-z0-9._~+/=-]{8,}/gi,
  /X-Amz-(Signature|Credential|Security-Token)=[^&\s"]+/g,
  /\bwhsec_[A-Za-z0-9+/=]{8,}/g,
];

export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of secrets) if (s.length >= 8) out = out.split(s).join("[redacted]");
  for (const p of secretPatterns)
    out = out.replace(p, (m) => `${m.slice(0, m.indexOf("=") + 1 || 3)}[redacted]`);
  return out;
}

function serializeError(err: unknown): Fields {
  if (!(err instanceof Error)) return { value: String(err) };
  const out: Fields = { name: err.name, message: err.message };
  if (err.stack) out.stack = err.stack;
  if (err.cause !== undefined) out.cause = serializeError(err.cause);
  return out;
}

export function createLogger(options: LoggerOptions, bound: Fields = {}): Logger {
  // JSON goes through Powertools; what follows is the sandbox's readable format only.
  if (options.format === "json") return createJsonLogger(options).logger.child(bound);
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const threshold = order[options.level];
  const secrets = options.secrets ?? [];

  const emit = (level: Exclude<LogLevel, "silent">, message: string, fields?: Fields) => {
    if (order[level] < threshold) return;
    const all: Fields = { ...bound, ...fields };
    for (const [k, v] of Object.entries(all)) if (v instanceof Error) all[k] = serializeError(v);
    const extras = Object.entries(all)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
      .join(" ");
    const line = `${new Date().toISOString().slice(11, 23)} ${level.toUpperCase().padEnd(5)} [${options.service}] ${message}${extras ? ` ${extras}` : ""}`;
    write(redact(line, secrets));
  };

  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => createLogger(options, { ...bound, ...fields }),
  };
}

const powertoolsLevels = {
  debug: "DEBUG",
  info: "INFO",
  warn: "WARN",
  error: "ERROR",
  silent: "SILENT",
} as const;

/**
 * A console whose every line goes to `write`. Powertools prints through a console it owns and offers no other
 * sink, so tests swap this one in to read what Lambda would receive.
 */
export function consoleTo(write: (line: string) => void): Console {
  const stream = new Writable({
    write(chunk, _encoding, done) {
      write(String(chunk).replace(/\n$/, ""));
      done();
    },
  });
  return new Console({ stdout: stream, stderr: stream });
}

/**
 * The JSON logger, backed by one Powertools Logger. Children keep their fields here and pass them with each
 * line, so the Lambda context that `injectLambdaContext` adds to the Powertools instance reaches every child.
 */
export function createJsonLogger(options: LoggerOptions): { logger: Logger; powertools: PowertoolsLogger } {
  const secrets = options.secrets ?? [];
  const powertools = new PowertoolsLogger({
    serviceName: options.service,
    logLevel: powertoolsLevels[options.level],
    // Called for every value in a line, errors' messages and stacks included.
    jsonReplacerFn: (_key, value) => (typeof value === "string" ? redact(value, secrets) : value),
  });
  if (options.write) (powertools as unknown as { console: Console }).console = consoleTo(options.write);
  const bind = (bound: Fields): Logger => {
    const emit = (level: Exclude<LogLevel, "silent">, message: string, fields?: Fields) => {
      const all = { ...bound, ...fields };
      if (Object.keys(all).length === 0) powertools[level](message);
      else powertools[level](message, all);
    };
    return {
      debug: (m, f) => emit("debug", m, f),
      info: (m, f) => emit("info", m, f),
      warn: (m, f) => emit("warn", m, f),
      error: (m, f) => emit("error", m, f),
      child: (fields) => bind({ ...bound, ...fields }),
    };
  };
  return { logger: bind({}), powertools };
}
