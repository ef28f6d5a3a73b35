import { describe, expect, it } from "vitest";
import { createLogger, redact } from "../../lib/logging.ts";

describe("redaction", () => {
  it("masks provider keys, our keys, bearer tokens, webhook secrets and presigned signatures", () => {
    const text = [
      "Incorrect API key provided: sk-proj-abc123def456ghi789.",
      "key sk-img-59ltHc5VHuSfWX2Dxrsg_QfwctEyO1h_",
      "Authorization: Bearer abcdefghijklmnop",
      "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
      "https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA123%2F2026&X-Amz-Signature=deadbeefcafe",
      "partial sk-abc***********wxyz",
    ].join("\n");
    const out = redact(text);
    for (const secret of [
      "abc123def456",
      "59ltHc5VHu",
      "abcdefghijklmnop",
      "MfKQ9r8GKY",
      "AKIA123",
      "deadbeefcafe",
      "wxyz",
    ]) {
      expect(out).not.toContain(secret);
    }
  });

  it("masks configured secrets wherever they appear, including in fields and errors", () => {
    const lines: string[] = [];
    const log = createLogger({
      level: "info",
      format: "json",
      service: "t",
      secrets: ["hunter2-very-secret"],
      write: (l) => lines.push(l),
    });
    log.error("boom", {
      err: new Error("token hunter2-very-secret rejected"),
      detail: "hunter2-very-secret",
    });
    expect(lines.join("")).not.toContain("hunter2-very-secret");
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({ level: "ERROR", message: "boom", service: "t" });
  });

  it("drops lines below the level", () => {
    const lines: string[] = [];
    const log = createLogger({ level: "warn", format: "pretty", service: "t", write: (l) => lines.push(l) });
    log.info("quiet");
    log.warn("loud", { jobId: "job_1", tenant: undefined });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/WARN {2}\[t\] loud jobId=job_1$/);
  });
});
