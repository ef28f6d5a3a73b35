import type { Browser, BrowserContext, Page } from "playwright-core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog, type ModelSpec, sizeProblem } from "../../lib/catalog/catalog.ts";
import { launchChromium, screenshot } from "../support/browser.ts";
import { type FakeOpenAI, openaiError, startFakeOpenAI } from "../support/fake-openai.ts";
import { httpClient, type Json } from "../support/http.ts";
import { type SandboxProcess, startSandboxProcess } from "../support/sandbox-process.ts";

// The playground in a real browser (Chromium), against `npm start`'s sandbox with the placeholder provider:
// what a newcomer does, click by click, with the results checked through the API and pixel by pixel.

async function pixels(url: string) {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  const { data, info } = await sharp(Buffer.from(await res.arrayBuffer()))
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Per region of an image (fractions of its size), how many pixels differ by more than `tolerance`. */
function changed(
  a: Awaited<ReturnType<typeof pixels>>,
  b: Awaited<ReturnType<typeof pixels>>,
  inRegion: (fx: number, fy: number) => boolean,
  tolerance = 3,
) {
  let total = 0;
  let differ = 0;
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      if (!inRegion(x / a.width, y / a.height)) continue;
      total++;
      const p = (y * a.width + x) * 4;
      let d = 0;
      for (let c = 0; c < 4; c++)
        d = Math.max(d, Math.abs((a.data[p + c] as number) - (b.data[p + c] as number)));
      if (d > tolerance) differ++;
    }
  }
  return differ / total;
}

describe("playground in Chromium", () => {
  let sandbox: SandboxProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let api: ReturnType<typeof httpClient>;
  const problems: string[] = [];
  let generated: Json;

  beforeAll(async () => {
    [sandbox, browser] = await Promise.all([startSandboxProcess(), launchChromium()]);
    api = httpClient(sandbox.url, sandbox.key);
    context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    page = await context.newPage();
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
    page.on("console", (msg) => {
      // A refused request logs "Failed to load resource"; the tests provoke some. Anything else is a fault.
      if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource"))
        problems.push(msg.text());
    });
  });
  afterAll(async () => {
    await browser?.close();
    await sandbox?.stop();
  });

  it("serves the playground at / and keeps the pasted key in localStorage, never in a cookie", async () => {
    const res = await page.goto(`${sandbox.url}/`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()["content-security-policy"]).toContain("script-src 'self'");
    await expect(page.title()).resolves.toBe("Image jobs playground");
    await page.getByRole("textbox", { name: "API key" }).fill(sandbox.key);
    await page.getByRole("button", { name: "Save key" }).click();
    await page.getByText("Key saved in this browser. Ready.").waitFor();
    expect(await page.evaluate("localStorage.getItem('image-jobs.api-key')")).toBe(sandbox.key);
    expect(await context.cookies()).toEqual([]);
    // The models came from GET /v1/models.
    const models = await page.getByLabel("Model").first().locator("option").allTextContents();
    expect(models).toContain("gpt-image-2 (default) · placeholder");
  });

  it("offers the sizes and qualities the selected model takes, from GET /v1/models", async () => {
    const listed = (await api.get("/v1/models")).body.data as Json[];
    const model = page.locator("#gen-model");
    const offered = async (select: string) =>
      page.locator(`${select} option`).evaluateAll((els) => els.map((e) => (e as { value: string }).value));
    const choices = new Map<string, { sizes: string[]; qualities: string[] }>();
    for (const id of await offered("#gen-model")) {
      await model.selectOption(id);
      const sizes = (await offered("#gen-size")).filter((v) => v.startsWith("size:")).map((v) => v.slice(5));
      const qualities = (await offered("#gen-quality")).filter((v) => v !== "");
      choices.set(id, { sizes, qualities });
      const spec = catalog.find((m) => m.id === id) as ModelSpec;
      // Each size is one the API takes for this model, by the catalog's own rule.
      expect(sizes.length).toBeGreaterThan(0);
      for (const size of sizes) expect([id, size, sizeProblem(spec, size)]).toEqual([id, size, undefined]);
      expect([id, qualities]).toEqual([id, listed.find((m) => m.id === id)?.qualities]);
    }
    expect([...choices.keys()]).toEqual(expect.arrayContaining(["gpt-image-2", "placeholder"]));
    // The reported case: 512x512 is refused by gpt-image-2, so it is offered for the placeholder only.
    expect(choices.get("gpt-image-2")?.sizes).not.toContain("512x512");
    expect(choices.get("placeholder")?.sizes).toContain("512x512");
    // Switching back keeps the choice where the new model takes it, else falls back to auto.
    await model.selectOption("placeholder");
    await page.locator("#gen-size").selectOption("size:512x512");
    await model.selectOption("gpt-image-2");
    await expect(page.locator("#gen-size").inputValue()).resolves.toBe("");

    // What gpt-image-2 offers, it makes: a 16:9 size its bounds take, as a job.
    const largest = "2048x1152";
    expect(choices.get("gpt-image-2")?.sizes).toContain(largest);
    await page.getByRole("textbox", { name: "Prompt" }).fill("a wide harbour");
    await page.locator("#gen-size").selectOption(`size:${largest}`);
    await page.getByRole("button", { name: "Generate", exact: true }).click();
    const card = page.locator("#generate-results .card").first();
    await card.locator(".badge.succeeded").waitFor();
    const job = (await api.get(`/v1/jobs/${await card.getAttribute("data-job-id")}`)).body;
    expect([
      job.model,
      job.input.size,
      `${job.output.images[0].width}x${job.output.images[0].height}`,
    ]).toEqual(["gpt-image-2", largest, largest]);
    await page.locator("#gen-size").selectOption("");
  });

  it("generates an image and shows it once the job succeeds", async () => {
    await page.getByRole("textbox", { name: "Prompt" }).fill("a lighthouse at dawn");
    await page.getByLabel("Size or aspect ratio").selectOption("size:1536x1024");
    await page.getByLabel("Format").selectOption("webp");
    await page.getByRole("button", { name: "Generate", exact: true }).click();
    const card = page.locator("#generate-results .card").first();
    await card.locator(".badge.succeeded").waitFor();
    const img = card.locator("img").first();
    // Loaded from the presigned URL (the CSP allows the bucket's origin): the browser decoded real pixels.
    await expect
      .poll(() => img.evaluate((el) => (el as { complete: boolean; naturalWidth: number }).naturalWidth))
      .toBe(1536);
    const id = await card.getAttribute("data-job-id");
    generated = (await api.get(`/v1/jobs/${id}`)).body;
    expect(generated).toMatchObject({ operation: "generate", status: "succeeded" });
    expect(generated.input).toMatchObject({
      prompt: "a lighthouse at dawn",
      size: "1536x1024",
      output_format: "webp",
    });
    expect(await card.getByRole("link", { name: /Download 1536×1024 webp/ }).getAttribute("href")).toMatch(
      /output-0\.webp\?X-Amz-/,
    );
    await screenshot(page, "1-generate");
  });

  it("paints a mask on the image, edits it, and only the painted area changes", async () => {
    await page
      .locator("#generate-results .card")
      .first()
      .getByRole("button", { name: /^Edit output 1/ })
      .click();
    await expect
      .poll(() => page.getByRole("tab", { name: "Edit" }).getAttribute("aria-selected"))
      .toBe("true");
    const mask = page.locator("#edit-mask");
    await mask.waitFor({ state: "visible" });
    await page.getByLabel("Brush size").fill("120");
    await mask.scrollIntoViewIfNeeded();
    const box = await mask.boundingBox();
    if (!box) throw new Error("The mask canvas has no box");
    // Strokes across the top-left area: from 20% to 40% of the width, at 20%, 30% and 40% of the height.
    for (const fy of [0.2, 0.3, 0.4]) {
      await page.mouse.move(box.x + box.width * 0.2, box.y + box.height * fy);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * 0.4, box.y + box.height * fy, { steps: 6 });
      await page.mouse.up();
    }
    await page.getByRole("textbox", { name: "Prompt" }).fill("a red balloon");
    await screenshot(page, "2-edit-mask");
    await page.getByRole("button", { name: "Edit image" }).click();
    await page.locator("#edit-results .card").waitFor();
    const card = page.locator("#edit-results .card").first();
    await card.locator(".badge.succeeded").waitFor();
    await screenshot(page, "3-edit-result");

    const edit = (await api.get(`/v1/jobs/${await card.getAttribute("data-job-id")}`)).body;
    expect(edit).toMatchObject({ operation: "edit", status: "succeeded" });
    expect(edit.input.images[0].from_job).toEqual({ job_id: generated.id, index: 0 });
    expect(edit.input.mask_source).toBe("mask");
    const before = await pixels(generated.output.images[0].url);
    const after = await pixels(edit.output.images[0].url);
    expect([after.width, after.height]).toEqual([before.width, before.height]);
    // The brush (120 screen px, about 18% of the shown width) reaches at most ~10% beyond the strokes.
    const painted = (fx: number, fy: number) => fx >= 0.22 && fx <= 0.38 && fy >= 0.22 && fy <= 0.38;
    const untouched = (fx: number, fy: number) => fx >= 0.55 || fy >= 0.55 || fx < 0.05 || fy < 0.05;
    expect(changed(before, after, painted)).toBeGreaterThan(0.5);
    expect(changed(before, after, untouched)).toBeLessThan(0.001);
  });

  it("outpaints with the border slider, and makes variations, of an earlier output", async () => {
    const source = generated.output.images[0];
    await page.getByRole("radio", { name: /Outpaint/ }).check();
    await expect(page.getByRole("group", { name: "Mask" }).isHidden()).resolves.toBe(true);
    await page.getByLabel(/^Border/).fill("20");
    await expect(page.locator("#edit-border-value").textContent()).resolves.toBe("20%");
    const results = page.locator("#edit-results .card");
    const before = await results.count();
    await page.getByRole("button", { name: "Outpaint" }).click();
    await expect.poll(() => results.count()).toBe(before + 1);
    const outpainted = results.first();
    await outpainted.locator(".badge.succeeded").waitFor();
    const outpaint = (await api.get(`/v1/jobs/${await outpainted.getAttribute("data-job-id")}`)).body;
    expect(outpaint.operation).toBe("outpaint");
    expect(outpaint.input).toMatchObject({
      border_percentage: 0.2,
      image: { from_job: { job_id: generated.id } },
    });
    // The canvas grew by the border on each side (to the model's nearest size).
    expect(outpaint.output.images[0].width).toBeGreaterThan(source.width);

    await page.getByRole("radio", { name: "Variations" }).check();
    await expect(page.getByRole("textbox", { name: "Prompt" }).isHidden()).resolves.toBe(true);
    await page.getByRole("spinbutton", { name: "Images" }).fill("2");
    await page.getByRole("button", { name: "Make variations" }).click();
    await expect.poll(() => results.count()).toBe(before + 2);
    const varied = results.first();
    await varied.locator(".badge.succeeded").waitFor();
    await expect.poll(() => varied.locator("img").count()).toBe(2);
    const variation = (await api.get(`/v1/jobs/${await varied.getAttribute("data-job-id")}`)).body;
    expect(variation).toMatchObject({ operation: "variation", input: { n: 2 } });
  });

  it("lists the tenant's jobs newest first, a page at a time", async () => {
    // Eight more jobs, so the list has a second page (8 per page).
    const earlier = (await api.get("/v1/jobs?limit=100")).body.data.length;
    const submitted = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        api.post("/v1/jobs", { operation: "generate", input: { prompt: `job ${i}`, size: "1024x1024" } }),
      ),
    );
    expect(submitted.map((r) => r.status)).toEqual(Array(8).fill(202));
    const all = (await api.get("/v1/jobs?limit=100")).body.data.map((j: Json) => j.id as string);
    expect(all).toHaveLength(earlier + 8);

    await page.getByRole("tab", { name: "Jobs" }).click();
    const cards = page.locator("#jobs-list .card");
    await expect.poll(() => cards.count()).toBe(8);
    const more = page.getByRole("button", { name: "Load older jobs" });
    await more.waitFor();
    await more.click();
    await expect.poll(() => cards.count()).toBe(all.length);
    await expect(more.isHidden()).resolves.toBe(true);
    await page.getByText(`${all.length} jobs shown, all loaded.`).waitFor();
    // Newest first, each job once, as the API lists them.
    const shown = await cards.evaluateAll((els) =>
      (els as { dataset: { jobId: string } }[]).map((e) => e.dataset.jobId),
    );
    expect(shown).toEqual(all);
    // Jobs still running when listed update themselves.
    await expect.poll(() => page.locator("#jobs-list .badge.succeeded").count()).toBe(all.length);
    await screenshot(page, "4-jobs");
  });

  it("shows a bad input's error to the user, naming the field, and creates no job", async () => {
    const jobsBefore = (await api.get("/v1/jobs?limit=100")).body.data.length;
    await page.getByRole("tab", { name: "Edit" }).click();
    await page.getByRole("radio", { name: /^Edit/ }).check();
    await page.getByLabel("Image", { exact: true }).setInputFiles({
      name: "notes.png",
      mimeType: "image/png",
      buffer: Buffer.from("these are notes, not an image"),
    });
    await page.getByText("Uploaded: notes.png").waitFor();
    await page.getByRole("textbox", { name: "Prompt" }).fill("make it blue");
    await page.getByRole("button", { name: "Edit image" }).click();
    const alert = page.locator("#edit-form [role=alert]");
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(
      /^Invalid 'input\.image': the image .+\(HTTP 400, invalid_image_format\)$/,
    );
    expect(await page.getByLabel("Image", { exact: true }).getAttribute("aria-invalid")).toBe("true");
    await screenshot(page, "5-error");
    expect((await api.get("/v1/jobs?limit=100")).body.data.length).toBe(jobsBefore);
  });

  it("is usable from the keyboard: tabs by arrow keys, forms submitted with Enter, focus visible", async () => {
    const generateTab = page.getByRole("tab", { name: "Generate" });
    await generateTab.click();
    await generateTab.press("ArrowRight");
    await expect.poll(() => page.evaluate("document.activeElement.id")).toBe("tab-edit");
    expect(await page.locator("#panel-edit").isVisible()).toBe(true);
    await page.keyboard.press("ArrowLeft");
    expect(await page.locator("#panel-generate").isVisible()).toBe(true);
    // Tab from the selected tab into its panel: the prompt comes first.
    await page.keyboard.press("Tab");
    await expect.poll(() => page.evaluate("document.activeElement.id")).toBe("gen-prompt");
    expect(await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")).toBe("solid");
    await page.keyboard.press("ControlOrMeta+A");
    await page.keyboard.type("a kite over the dunes");
    const before = await page.locator("#generate-results .card").count();
    await page.getByRole("button", { name: "Generate", exact: true }).focus();
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator("#generate-results .card").count()).toBe(before + 1);
    await page.locator("#generate-results .card").first().locator(".badge.succeeded").waitFor();
  });

  it("fits a phone-sized screen without sideways scrolling", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const tab of ["Generate", "Edit", "Jobs"]) {
      await page.getByRole("tab", { name: tab }).click();
      expect(await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")).toBe(true);
    }
    await page.getByRole("tab", { name: "Generate" }).click();
    await screenshot(page, "6-phone", false);
  });

  it("raised no script error and no Content-Security-Policy violation", () => {
    expect(problems).toEqual([]);
  });
});

describe("playground in Chromium with a provider that is slow, then refuses", () => {
  let sandbox: SandboxProcess;
  let fake: FakeOpenAI;
  let browser: Browser;
  let page: Page;
  let api: ReturnType<typeof httpClient>;

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    [sandbox, browser] = await Promise.all([
      startSandboxProcess({
        OPENAI_API_KEY: "sk-proj-browser-test-0123456789",
        OPENAI_BASE_URL: fake.baseURL,
      }),
      launchChromium(),
    ]);
    api = httpClient(sandbox.url, sandbox.key);
    page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    await page.goto(`${sandbox.url}/`);
    await page.getByRole("textbox", { name: "API key" }).fill(sandbox.key);
    await page.getByRole("button", { name: "Save key" }).click();
    await page.getByText("Key saved in this browser. Ready.").waitFor();
  });
  afterAll(async () => {
    await browser?.close();
    await sandbox?.stop();
    await fake?.close();
  });

  it("shows the job's live status while it runs, and keeps the form usable", async () => {
    fake.setLatency(2500);
    await page.getByRole("textbox", { name: "Prompt" }).fill("a slow sunrise");
    await page.getByRole("button", { name: "Generate", exact: true }).click();
    const card = page.locator("#generate-results .card").first();
    await card.locator(".badge.running").waitFor();
    // The timer ticks between polls.
    const first = await card.locator(".status-text").textContent();
    expect(first).toMatch(/^running for \d+\.\d s$/);
    await expect.poll(() => card.locator(".status-text").textContent()).not.toBe(first);
    // Still running, the page answers: switch tabs and back.
    await page.getByRole("tab", { name: "Jobs" }).click();
    await page.locator("#jobs-list .card").first().waitFor();
    await page.getByRole("tab", { name: "Generate" }).click();
    fake.setLatency(0);
    await card.locator(".badge.succeeded").waitFor();
    expect(await card.locator(".status-text").textContent()).toMatch(/^took \d+\.\d s, \d+\.\d s running$/);
  });

  it("shows why a job failed", async () => {
    fake.script(openaiError(400, "Your request was rejected by the safety system.", "moderation_blocked"));
    await page.getByRole("textbox", { name: "Prompt" }).fill("something the provider refuses");
    await page.getByRole("button", { name: "Generate", exact: true }).click();
    const card = page.locator("#generate-results .card").first();
    await expect.poll(() => card.locator(".prompt").textContent()).toBe("something the provider refuses");
    await card.locator(".badge.failed").waitFor();
    expect(await card.locator(".job-error").textContent()).toBe(
      "content_policy_violation: Your request was rejected by the safety system.",
    );
    await screenshot(page, "7-failed");
  });

  /** Generates from the form with the provider held back, and returns the job's card once it runs. */
  async function runningJob(prompt: string) {
    fake.setLatency(60_000);
    await page.getByRole("tab", { name: "Generate" }).click();
    await page.getByRole("textbox", { name: "Prompt" }).fill(prompt);
    await page.getByRole("button", { name: "Generate", exact: true }).click();
    const card = page.locator("#generate-results .card").first();
    await expect.poll(() => card.locator(".prompt").textContent()).toBe(prompt);
    await card.locator(".badge.running").waitFor();
    return { card, id: (await card.getAttribute("data-job-id")) as string };
  }

  it("cancels a running job from its card, with the keyboard", async () => {
    try {
      const { card, id } = await runningJob("a sunrise nobody waits for");
      const cancel = card.getByRole("button", { name: `Cancel job ${id}` });
      const rendered = await card.elementHandle();
      await cancel.focus();
      await screenshot(page, "8-cancel");
      // The card is re-rendered by the next poll; the focus stays on its Cancel button.
      await expect.poll(() => rendered?.evaluate((el) => el.isConnected)).toBe(false);
      await expect
        .poll(() => page.evaluate("document.activeElement.getAttribute('aria-label')"))
        .toBe(`Cancel job ${id}`);
      await page.keyboard.press("Enter");
      await card.locator(".badge.canceled").waitFor();
      // Ended: no Cancel any more, and the API agrees.
      await expect(card.getByRole("button", { name: /^Cancel job/ }).count()).resolves.toBe(0);
      expect((await api.get(`/v1/jobs/${id}`)).body).toMatchObject({ id, status: "canceled" });
    } finally {
      fake.setLatency(0);
    }
  });

  it("says so when the job finished before the cancel reached it (409), and shows how it ended", async () => {
    try {
      const { card, id } = await runningJob("a sunrise that wins the race");
      // Hold the cancel until the job has succeeded, so the service answers 409.
      await page.route(`**/v1/jobs/${id}/cancel`, async (route) => {
        fake.setLatency(0);
        await expect.poll(async () => (await api.get(`/v1/jobs/${id}`)).body.status).toBe("succeeded");
        await route.continue();
      });
      await card.getByRole("button", { name: `Cancel job ${id}` }).click();
      const shown = page.locator(`#generate-results .card[data-job-id="${id}"]`);
      await expect
        .poll(() => shown.locator(".cancel-note").textContent())
        .toBe("Not canceled: the job had already succeeded.");
      await shown.locator(".badge.succeeded").waitFor();
      expect((await api.get(`/v1/jobs/${id}`)).body.status).toBe("succeeded");
    } finally {
      fake.setLatency(0);
      await page.unrouteAll();
    }
  });

  it("filters the job list by status, and pages within the filter", async () => {
    const ids = async (status: string) =>
      (await api.get(`/v1/jobs?limit=100&status=${status}`)).body.data.map((j: Json) => j.id as string);
    // Nine more successes, so "succeeded" has a second page (8 per page).
    const before = (await ids("succeeded")).length;
    const submitted = await Promise.all(
      Array.from({ length: 9 }, (_, i) =>
        api.post("/v1/jobs", { operation: "generate", input: { prompt: `filtered ${i}` } }),
      ),
    );
    expect(submitted.map((r) => r.status)).toEqual(Array(9).fill(202));
    await expect.poll(async () => (await ids("succeeded")).length, { timeout: 30_000 }).toBe(before + 9);

    await page.getByRole("tab", { name: "Jobs" }).click();
    const cards = page.locator("#jobs-list .card");
    const shownIds = () =>
      cards.evaluateAll((els) => (els as { dataset: { jobId: string } }[]).map((e) => e.dataset.jobId));
    const filter = page.getByRole("combobox", { name: "Status" });
    for (const status of ["canceled", "failed"]) {
      await filter.selectOption(status);
      const expected = await ids(status);
      expect(expected.length).toBeGreaterThan(0);
      await expect.poll(shownIds).toEqual(expected);
      expect(await page.locator(`#jobs-list .badge:not(.${status})`).count()).toBe(0);
      await page
        .getByText(`${expected.length} ${status} job${expected.length === 1 ? "" : "s"} shown, all loaded.`)
        .waitFor();
    }

    const succeeded = await ids("succeeded");
    expect(succeeded.length).toBeGreaterThan(8);
    await filter.selectOption("succeeded");
    await expect.poll(() => cards.count()).toBe(8);
    await page.getByRole("button", { name: "Load older jobs" }).click();
    await expect.poll(shownIds).toEqual(succeeded);
    expect(await page.locator("#jobs-list .badge:not(.succeeded)").count()).toBe(0);

    await filter.selectOption("");
    const everything = (await api.get("/v1/jobs?limit=8")).body.data.map((j: Json) => j.id as string);
    await expect.poll(shownIds).toEqual(everything);
    await screenshot(page, "9-jobs-filter");
  });
});
