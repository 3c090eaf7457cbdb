import path from 'node:path';
import ts from 'typescript';

/** One rendered Kubernetes object and where it came from (helm's `# Source:` line). */
export interface RenderedObject {
  source: string;
  object: Record<string, unknown>;
}

/** A rule a rendered object breaks. */
export interface ManifestProblem {
  /** `Kind/name (source)`. */
  object: string;
  message: string;
}

/**
 * The model package of each API group: kubernetes-models for Kubernetes' own groups, the
 * kubernetes-models CRD packages for KEDA and prometheus-operator. An apiVersion outside this list
 * is a problem in itself: the chart must not render objects nobody checked.
 */
function modelModule(apiVersion: string): string | undefined {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  if (!version) return undefined;
  if (group === '') return `kubernetes-models/${version}`;
  if (group === 'keda.sh') return `@kubernetes-models/keda/keda.sh/${version}`;
  if (group === 'monitoring.coreos.com')
    return `@kubernetes-models/prometheus-operator/monitoring.coreos.com/${version}`;
  if (/^[a-z]+(\.k8s\.io)?$/.test(group ?? '')) return `kubernetes-models/${group}/${version}`;
  return undefined;
}

function describe(o: Record<string, unknown>, source: string): string {
  const name = (o.metadata as { name?: string } | undefined)?.name ?? '?';
  return `${String(o.kind)}/${name} (${source})`;
}

type Model = new (data: unknown) => { validate(): void };

/**
 * Validates each object against the JSON schema of its kind (the Kubernetes OpenAPI, KEDA's and
 * prometheus-operator's CRD schemas, as compiled by kubernetes-models): required fields, types,
 * formats, enums. Those schemas allow unknown fields, so {@link unknownFieldProblems} runs too.
 */
async function schemaProblems(objects: RenderedObject[]): Promise<ManifestProblem[]> {
  const problems: ManifestProblem[] = [];
  for (const { source, object } of objects) {
    const what = describe(object, source);
    const mod = typeof object.apiVersion === 'string' ? modelModule(object.apiVersion) : undefined;
    let model: Model | undefined;
    try {
      if (mod)
        model = ((await import(mod)) as Record<string, unknown>)[String(object.kind)] as Model | undefined;
    } catch {
      model = undefined;
    }
    if (typeof model !== 'function') {
      problems.push({
        object: what,
        message: `no schema for apiVersion ${String(object.apiVersion)} kind ${String(object.kind)}`,
      });
      continue;
    }
    try {
      new model(object).validate();
    } catch (err) {
      problems.push({ object: what, message: (err as Error).message });
    }
  }
  return problems;
}

/**
 * Unknown (misspelt) fields, at any depth: the objects become typed constants of their
 * kubernetes-models interface (`const o3: IDeployment = {…}`) and the TypeScript compiler checks
 * them; its excess-property check refuses any field the interface does not declare, which is what
 * the API server's strict field validation does with the same OpenAPI definitions.
 */
function unknownFieldProblems(objects: RenderedObject[], root: string): ManifestProblem[] {
  const lines: string[] = [];
  const lineOf: number[] = [];
  objects.forEach(({ object }, i) => {
    const mod = typeof object.apiVersion === 'string' ? modelModule(object.apiVersion) : undefined;
    if (!mod || typeof object.kind !== 'string' || !/^[A-Za-z]+$/.test(object.kind)) return;
    lines.push(`import type { I${object.kind} as T${i} } from '${mod}';`);
  });
  objects.forEach(({ object }, i) => {
    if (!lines.some((l) => l.includes(` as T${i} `))) return;
    lineOf[lines.length] = i;
    lines.push(`export const o${i}: T${i} = ${JSON.stringify(object)};`);
  });
  const file = path.join(root, '.rendered-manifests.mts');
  const text = lines.join('\n') + '\n';
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  };
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) =>
    name === file ? ts.createSourceFile(name, text, lang) : read(name, lang, ...rest);
  const exists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || exists(name);
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : -1;
    const index = lineOf[line];
    const o = index === undefined ? undefined : objects[index];
    return {
      object: o ? describe(o.object, o.source) : 'rendered manifests',
      message: ts.flattenDiagnosticMessageText(d.messageText, ' ').replace(/\s+/g, ' ').slice(0, 600),
    };
  });
}

/** Every problem of the rendered objects: schema violations and unknown fields. Empty = valid. */
export async function validateObjects(objects: RenderedObject[], root: string): Promise<ManifestProblem[]> {
  return [...(await schemaProblems(objects)), ...unknownFieldProblems(objects, root)];
}
