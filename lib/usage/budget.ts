import { fromMicroUsd, toMicroUsd } from "../catalog/prices.ts";
import { LimitExceeded, Unavailable } from "../jobs/errors.ts";
import type { BudgetGuard } from "../jobs/ports/usage.ts";

/** Reads what a tenant has spent this UTC month (UsageLedger.monthSpentMicroUsd). */
export interface MonthSpend {
  monthSpentMicroUsd(tenant: string, now?: number): Promise<number>;
}

/**
 * Per-tenant monthly budgets in USD: once a tenant's estimated spend this UTC month reaches its budget, new
 * jobs get a 429 `budget_exceeded` until the month ends. The spend is what succeeded jobs cost (counted
 * atomically by the usage ledger), so jobs already running when the budget is reached may overshoot it by
 * their own cost: a soft cap, checked with one consistent read per request.
 */
export class MonthlyBudgets implements BudgetGuard {
  readonly #spend: MonthSpend;
  readonly #budgets: Readonly<Record<string, number>>;

  /** `budgets`: USD by tenant; "*" for every tenant not listed. */
  constructor(spend: MonthSpend, budgets: Readonly<Record<string, number>>) {
    this.#spend = spend;
    this.#budgets = budgets;
  }

  async admit(tenant: string, now = Date.now()): Promise<void> {
    const budget = this.#budgets[tenant] ?? this.#budgets["*"];
    if (budget === undefined) return;
    let spent: number;
    try {
      spent = await this.#spend.monthSpentMicroUsd(tenant, now);
    } catch (cause) {
      throw new Unavailable("Could not check this tenant's budget. Please retry.", { cause });
    }
    if (spent < toMicroUsd(budget)) return;
    const date = new Date(now);
    const nextMonth = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
    throw new LimitExceeded(
      `This tenant's monthly budget of $${budget.toFixed(2)} is spent ($${fromMicroUsd(spent).toFixed(2)} estimated this month, UTC). It resets on ${new Date(nextMonth).toISOString().slice(0, 10)}.`,
      (nextMonth - now) / 1000,
      // The openai SDK would otherwise retry at once, ignoring a Retry-After of days.
      { code: "budget_exceeded", untilReset: true },
    );
  }
}
