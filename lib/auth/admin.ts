import { createHash, timingSafeEqual } from "node:crypto";

const digest = (text: string) => createHash("sha256").update(text).digest();

/** The operator's key for /admin. Compared in constant time; hashing first makes the lengths equal. */
export class AdminKey {
  readonly #digest: Buffer | undefined;

  /** Without a key the admin API is closed: nothing matches. */
  constructor(key: string | undefined) {
    this.#digest = key ? digest(key) : undefined;
  }

  get enabled(): boolean {
    return this.#digest !== undefined;
  }

  matches(candidate: string | undefined): boolean {
    if (!this.#digest || candidate === undefined) return false;
    return timingSafeEqual(this.#digest, digest(candidate));
  }
}
