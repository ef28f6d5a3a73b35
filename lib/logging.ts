// Structured logs: JSON lines in Lambda (CloudWatch and Logs Insights read them), readable lines in the sandbox.
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
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const threshold = order[options.level];
  const secrets = options.secrets ?? [];

  const emit = (level: Exclude<LogLevel, "silent">, message: string, fields?: Fields) => {
    if (order[level] < threshold) return;
    const all: Fields = { ...bound, ...fields };
    for (const [k, v] of Object.entries(all)) if (v instanceof Error) all[k] = serializeError(v);
    let line: string;
    if (options.format === "json") {
      line = JSON.stringify({
        level,
        time: new Date().toISOString(),
        service: options.service,
        message,
        ...all,
      });
    } else {
      const extras = Object.entries(all)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
        .join(" ");
      line = `${new Date().toISOString().slice(11, 23)} ${level.toUpperCase().padEnd(5)} [${options.service}] ${message}${extras ? ` ${extras}` : ""}`;
    }
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
