// SQS fair queues, locally. In AWS a standard queue whose messages carry MessageGroupId (the tenant) delivers the
// messages of quiet groups first when one group holds a large share of the messages in flight. fauxqs delivers in
// send order whatever the group, so the sandbox's poller reads ahead into this buffer and hands messages to
// invocations by the same rule, applied at every pick: the group with the fewest messages in flight goes next
// (ties: the group whose waiting message arrived first), in arrival order within a group. The simulation
// (bench/simulate) drives this same class.

interface Held<T> {
  item: T;
  seq: number;
  heldSince: number;
}

/** A group's waiting messages: taken from `head` on, so a take is O(1) however long the backlog (the simulation). */
interface GroupQueue<T> {
  held: Held<T>[];
  head: number;
}

export class FairBuffer<T> {
  readonly #waiting = new Map<string, GroupQueue<T>>();
  readonly #inFlight = new Map<string, number>();
  #size = 0;
  #seq = 0;

  /** Messages waiting, all groups together. */
  get size(): number {
    return this.#size;
  }

  /** How many of `group`'s messages are in flight (taken and not yet done). */
  inFlight(group: string): number {
    return this.#inFlight.get(group) ?? 0;
  }

  push(item: T, group: string, now: number): void {
    const queue = this.#waiting.get(group);
    const held = { item, seq: this.#seq++, heldSince: now };
    if (queue) queue.held.push(held);
    else this.#waiting.set(group, { held: [held], head: 0 });
    this.#size++;
  }

  /** The next message by the fairness rule, now counted in flight for its group; undefined when none waits. */
  take(): { item: T; group: string } | undefined {
    let best: { group: string; queue: GroupQueue<T>; load: number; seq: number } | undefined;
    for (const [group, queue] of this.#waiting) {
      const head = queue.held[queue.head];
      if (!head) continue;
      const load = this.inFlight(group);
      if (!best || load < best.load || (load === best.load && head.seq < best.seq))
        best = { group, queue, load, seq: head.seq };
    }
    if (!best) return undefined;
    const queue = best.queue;
    const held = queue.held[queue.head++] as Held<T>;
    if (queue.head === queue.held.length) this.#waiting.delete(best.group);
    else if (queue.head > 1024 && queue.head * 2 > queue.held.length) {
      queue.held = queue.held.slice(queue.head);
      queue.head = 0;
    }
    this.#size--;
    this.#inFlight.set(best.group, best.load + 1);
    return { item: held.item, group: best.group };
  }

  /** A taken message's invocation ended (whatever its outcome). */
  done(group: string): void {
    const n = this.inFlight(group) - 1;
    if (n > 0) this.#inFlight.set(group, n);
    else this.#inFlight.delete(group);
  }

  /** Waiting messages held since before `before`; each is marked held from `now` (its visibility was extended). */
  renewOlderThan(before: number, now: number): T[] {
    const due: T[] = [];
    for (const queue of this.#waiting.values()) {
      for (const held of queue.held.slice(queue.head)) {
        if (held.heldSince < before) {
          due.push(held.item);
          held.heldSince = now;
        }
      }
    }
    return due;
  }

  /** Empties the buffer, returning what waited. */
  drain(): T[] {
    const all = [...this.#waiting.values()].flatMap((q) => q.held.slice(q.head).map((h) => h.item));
    this.#waiting.clear();
    this.#size = 0;
    return all;
  }
}
