import { catalog as builtIn, isShutDown, type ModelSpec, type Operation } from "../catalog/catalog.ts";
import { InvalidInput, NotFound } from "./errors.ts";
import type { ImageProvider } from "./ports/provider.ts";

export interface ResolvedModel {
  model: ModelSpec;
  provider: ImageProvider;
  /** True when the placeholder answers for a model whose provider is not configured. */
  standIn: boolean;
}

export interface RegistryOptions {
  providers: readonly ImageProvider[];
  /** Answers for models whose own provider is not configured (the offline sandbox). */
  standIn?: ImageProvider | undefined;
  /** The providers whose models the stand-in may answer for; all when absent. */
  standInFor?: readonly string[] | undefined;
  defaultModel?: string | undefined;
  /** The built-in catalog unless given; `extraModels` (configured upstreams) are added to it. */
  models?: readonly ModelSpec[];
  extraModels?: readonly ModelSpec[];
  /** Per-tenant default model, for requests that name none. */
  tenantDefaults?: Readonly<Record<string, string>> | undefined;
  /** Per model, the models that take over, in order, when its provider is down or throttling. */
  fallbacks?: Readonly<Record<string, readonly string[]>> | undefined;
  now?: () => Date;
}

/** The registry's configuration names a model it does not have; raised at cold start. */
export class RegistryConfigError extends Error {
  override name = "RegistryConfigError";
}

/** Maps a request's `model` to its capabilities and the provider that serves it. */
export class ProviderRegistry {
  readonly #models: Map<string, ModelSpec>;
  readonly #providers: Map<string, ImageProvider>;
  readonly #standIn: ImageProvider | undefined;
  readonly #standInFor: readonly string[] | undefined;
  readonly #defaultModel: string;
  readonly #tenantDefaults: Readonly<Record<string, string>>;
  readonly #fallbacks: Readonly<Record<string, readonly string[]>>;
  readonly #now: () => Date;

  constructor(options: RegistryOptions) {
    this.#models = new Map((options.models ?? builtIn).map((m) => [m.id, m]));
    for (const m of options.extraModels ?? []) {
      if (this.#models.has(m.id)) {
        throw new RegistryConfigError(`The model '${m.id}' of provider ${m.provider} is already defined.`);
      }
      this.#models.set(m.id, m);
    }
    this.#providers = new Map(options.providers.map((p) => [p.name, p]));
    this.#standIn = options.standIn;
    this.#standInFor = options.standInFor;
    this.#now = options.now ?? (() => new Date());
    const firstLive = [...this.#models.values()].find((m) => this.#live(m) && this.#providerFor(m));
    const chosen = options.defaultModel ?? firstLive?.id;
    if (!chosen || !this.#models.has(chosen)) {
      throw new RegistryConfigError(`Default model ${chosen ?? "(none)"} is not in the model catalog.`);
    }
    this.#defaultModel = chosen;
    this.#tenantDefaults = options.tenantDefaults ?? {};
    this.#fallbacks = options.fallbacks ?? {};
    const named = [
      ...Object.entries(this.#tenantDefaults).map(([tenant, id]) => [id, `the default of tenant ${tenant}`]),
      ...Object.entries(this.#fallbacks).flatMap(([id, list]) => [
        [id, "a fallback list"],
        ...list.map((f) => [f, `the fallbacks of ${id}`]),
      ]),
    ];
    for (const [id, where] of named) {
      if (!this.#models.has(id as string)) {
        throw new RegistryConfigError(`The model '${id}' (${where}) is not in the model catalog.`);
      }
    }
  }

  get defaultModel(): string {
    return this.#defaultModel;
  }

  /** The model a tenant's request gets when it names none. */
  defaultFor(tenant: string): string {
    return this.#tenantDefaults[tenant] ?? this.#defaultModel;
  }

  model(id: string): ModelSpec | undefined {
    return this.#models.get(id);
  }

  /**
   * The model a job names, then its fallbacks that can do `operation` and are served now, in order. The first
   * must resolve (it throws as `resolve` does); an unavailable fallback is skipped.
   */
  chain(modelId: string, operation: Operation): ResolvedModel[] {
    const first = this.resolve(modelId, operation);
    const rest = (this.#fallbacks[modelId] ?? []).flatMap((id) => {
      try {
        return [this.resolve(id, operation)];
      } catch {
        return [];
      }
    });
    return [first, ...rest];
  }

  /**
   * The model that serves requests for `id` in an API whose documented models may since have been retired (a
   * dialect's default, lib/api/dialects): `id` while it is live, else its catalog replacement, followed to a live
   * one. Unknown ids come back as they are, for `resolve` to refuse.
   */
  current(id: string): string {
    let model = this.#models.get(id);
    for (let hops = 0; model && !this.#live(model) && model.replacement && hops < 8; hops++) {
      model = this.#models.get(model.replacement) ?? model;
    }
    return model?.id ?? id;
  }

  /** `param` names the request field in errors (e.g. `input.model` inside a job). */
  resolve(modelId: string | undefined, operation: Operation, param = "model"): ResolvedModel {
    const id = modelId ?? this.#defaultModel;
    const model = this.#models.get(id);
    if (!model) {
      throw new InvalidInput(
        `The model '${id}' does not exist. Available models: ${this.list()
          .map((m) => m.model.id)
          .join(", ")}.`,
        { param, code: "model_not_found" },
      );
    }
    if (!this.#live(model)) {
      throw new InvalidInput(
        `The model '${id}' was shut down on ${model.shutdownOn}.${model.replacement ? ` Use '${model.replacement}' instead.` : ""}`,
        { param, code: "model_not_found" },
      );
    }
    if (!model.operations.includes(operation)) {
      throw new InvalidInput(`The model '${id}' does not support ${operation}.`, {
        param,
        code: "unsupported_operation",
      });
    }
    const own = this.#providers.get(model.provider);
    const provider = own ?? this.#standInOf(model);
    if (!provider) {
      throw new InvalidInput(
        `The model '${id}' needs the ${model.provider} provider, which is not configured.`,
        {
          param: "model",
          code: "model_not_available",
        },
      );
    }
    return { model, provider, standIn: own === undefined };
  }

  /** Live models that some configured provider can serve. */
  list(): ResolvedModel[] {
    return [...this.#models.values()].flatMap((model) => {
      if (!this.#live(model)) return [];
      const own = this.#providers.get(model.provider);
      const provider = own ?? this.#standInOf(model);
      return provider ? [{ model, provider, standIn: own === undefined }] : [];
    });
  }

  /**
   * The model `id` as `list` has it. When `list` leaves it out, a 404 (model_not_found) that says why: no such
   * model, shut down (naming its replacement), or no configured provider serves it.
   */
  listed(id: string): ResolvedModel {
    const found = this.list().find((m) => m.model.id === id);
    if (found) return found;
    const model = this.#models.get(id);
    const why = !model
      ? `The model '${id}' does not exist. GET /v1/models lists the models served here.`
      : !this.#live(model)
        ? `The model '${id}' was shut down on ${model.shutdownOn}.${model.replacement ? ` Use '${model.replacement}' instead.` : ""}`
        : `The model '${id}' needs the ${model.provider} provider, which is not configured here.`;
    throw new NotFound(why, { param: "model", code: "model_not_found" });
  }

  #live(model: ModelSpec): boolean {
    return !isShutDown(model, this.#now());
  }

  #providerFor(model: ModelSpec): ImageProvider | undefined {
    return this.#providers.get(model.provider) ?? this.#standInOf(model);
  }

  #standInOf(model: ModelSpec): ImageProvider | undefined {
    if (this.#standInFor && !this.#standInFor.includes(model.provider)) return undefined;
    return this.#standIn;
  }
}
