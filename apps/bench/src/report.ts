import { SUBJECTS, type MetricDef, type Metrics, type Params, type Scenario, type SubjectName } from './scenario.js'
import type { MachineInfo } from './machine.js'

export interface RunRecord {
  scenario: string
  configId: string
  configLabel: string
  subject: SubjectName
  params: Params
  metrics: Metrics | null
  error?: string
  durationMs: number
  /** CPU the machine was using (anything) just before the measurement started, in cores. */
  loadBeforeCores: number
  /** CPU used during the measurement by processes other than the server, the client and the orchestrator, in cores (averaged). */
  backgroundCores: number
  /** Measurements taken (more than one when other load disturbed the first). */
  attempts?: number
}

export interface TargetResult {
  id: string
  target: string
  figure: string
  /** null: not measured in this run. */
  met: boolean | null
}

export interface BenchReport {
  startedAt: string
  finishedAt: string
  quick: boolean
  machine: MachineInfo
  runs: RunRecord[]
  targets: TargetResult[]
}

const lookup = (runs: RunRecord[], scenario: string, configId: string, subject: SubjectName, metric: string): number | undefined => {
  const value = runs.find((r) => r.scenario === scenario && r.configId === configId && r.subject === subject)?.metrics?.[metric]
  return value !== undefined && Number.isFinite(value) ? value : undefined
}

/** The better of the peers' values for a metric (undefined when no peer was measured). */
function bestPeer(runs: RunRecord[], scenario: Scenario, configId: string, metric: MetricDef): { value: number; subject: SubjectName } | undefined {
  let best: { value: number; subject: SubjectName } | undefined
  for (const subject of scenario.subjects) {
    if (SUBJECTS[subject].role !== 'peer') continue
    const value = lookup(runs, scenario.name, configId, subject, metric.key)
    if (value === undefined) continue
    if (best === undefined || (metric.better === 'higher' ? value > best.value : value < best.value)) best = { value, subject }
  }
  return best
}

export function formatNumber(value: number | undefined, digits = 0): string {
  if (value === undefined || !Number.isFinite(value)) return '—'
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

export function formatRatio(ratio: number | undefined): string {
  if (ratio === undefined || !Number.isFinite(ratio)) return '—'
  return `${ratio >= 10 ? ratio.toFixed(1) : ratio.toFixed(2)}×`
}

const unitSuffix = (unit: string): string => (unit === '' || unit === '×' ? '' : ` ${unit}`)

/** One table per scenario: a row per configuration and metric, a column per subject, each figure with its ratio to the ceiling. */
export function scenarioTable(scenario: Scenario, runs: RunRecord[]): string {
  const subjects = scenario.subjects
  const ceiling = subjects.find((s) => SUBJECTS[s].role === 'ceiling')
  const hasPeers = subjects.some((s) => SUBJECTS[s].role === 'peer')
  const header = ['configuration', 'metric', ...subjects.map((s) => SUBJECTS[s].label)]
  if (hasPeers) header.push('Meridian ÷ best peer')
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map((_, i) => (i < 2 ? '---' : '---:')).join(' | ')} |`]
  for (const config of scenario.configs) {
    if (!runs.some((r) => r.scenario === scenario.name && r.configId === config.id)) continue
    for (const metric of scenario.metrics) {
      if (metric.shown !== true) continue
      const arrow = metric.better === 'higher' ? '↑' : '↓'
      const row = [config.label, `${metric.label}${unitSuffix(metric.unit)} ${arrow}`]
      const ceilingValue = ceiling !== undefined ? lookup(runs, scenario.name, config.id, ceiling, metric.key) : undefined
      for (const subject of subjects) {
        const record = runs.find((r) => r.scenario === scenario.name && r.configId === config.id && r.subject === subject)
        if (record === undefined) {
          row.push('not run')
          continue
        }
        if (record.metrics === null) {
          row.push('failed')
          continue
        }
        const value = lookup(runs, scenario.name, config.id, subject, metric.key)
        let cell = formatNumber(value, metric.digits ?? 0)
        if (metric.noRatio !== true && subject !== ceiling && ceilingValue !== undefined && value !== undefined && ceilingValue !== 0) {
          cell += ` (${formatRatio(value / ceilingValue)} raw)`
        }
        row.push(cell)
      }
      if (hasPeers) {
        const meridian = subjects.find((s) => SUBJECTS[s].role === 'meridian')
        const mine = meridian !== undefined ? lookup(runs, scenario.name, config.id, meridian, metric.key) : undefined
        const peer = bestPeer(runs, scenario, config.id, metric)
        row.push(metric.noRatio !== true && mine !== undefined && peer !== undefined && peer.value !== 0 ? formatRatio(mine / peer.value) : '—')
      }
      lines.push(`| ${row.join(' | ')} |`)
    }
  }
  return lines.join('\n')
}

/** The targets of issue 7, evaluated on this run's figures. */
export function evaluateTargets(runs: RunRecord[]): TargetResult[] {
  const results: TargetResult[] = []
  const ratioTarget = (
    id: string,
    target: string,
    scenario: string,
    configId: string,
    metric: string,
    reference: 'raw' | 'best-peer' | 'y-websocket' | 'hocuspocus',
    better: 'higher' | 'lower',
    bound: number,
    digits = 0,
    unit = ''
  ): void => {
    const mine = lookup(runs, scenario, configId, 'meridian', metric)
    let ref: number | undefined
    let refLabel = reference === 'raw' ? 'raw' : reference === 'best-peer' ? 'best peer' : SUBJECTS[reference].label
    if (reference !== 'best-peer') ref = lookup(runs, scenario, configId, reference, metric)
    else {
      const peers = (['y-websocket', 'hocuspocus'] as const)
        .map((s) => ({ s, v: lookup(runs, scenario, configId, s, metric) }))
        .filter((p): p is { s: 'y-websocket' | 'hocuspocus'; v: number } => p.v !== undefined)
      const best = peers.sort((a, b) => (better === 'higher' ? b.v - a.v : a.v - b.v))[0]
      ref = best?.v
      refLabel = best !== undefined ? SUBJECTS[best.s].label : 'best peer'
    }
    if (mine === undefined || ref === undefined || ref === 0) {
      results.push({ id, target, figure: 'not measured', met: null })
      return
    }
    const ratio = mine / ref
    const met = better === 'higher' ? ratio >= bound : ratio <= bound
    results.push({
      id,
      target,
      figure: `${formatRatio(ratio)} ${refLabel} (${formatNumber(mine, digits)}${unit} vs ${formatNumber(ref, digits)}${unit})`,
      met
    })
  }
  ratioTarget('fan-out-50', 'fan-out, 50 receivers: deliveries/s ≥ 0.85× raw', 'fan-out', '50', 'deliveriesPerSec', 'raw', 'higher', 0.85, 0, '/s')
  ratioTarget('fan-out-200', 'fan-out, 200 receivers: deliveries/s ≥ 0.85× raw', 'fan-out', '200', 'deliveriesPerSec', 'raw', 'higher', 0.85, 0, '/s')
  ratioTarget('latency-p99', 'latency: p99 ≤ 1.1× raw', 'latency', '50', 'p99Ms', 'raw', 'lower', 1.1, 2, ' ms')
  ratioTarget('join', 'large-doc join: time ≤ 2× raw', 'large-doc-join', '20', 'timeMs', 'raw', 'lower', 2, 0, ' ms')
  ratioTarget('many-docs-rss', 'many-docs: RSS per document ≤ 0.7× best peer', 'many-docs', '1000', 'rssPerDocKb', 'best-peer', 'lower', 0.7, 1, ' KB')
  // Issue 21: one client opening a workspace of 500 documents over one multiplexed socket, and subdocuments.
  ratioTarget('workspace-time-y-websocket', 'workspace, cold: time ≤ 0.2× y-websocket\'s', 'workspace', 'cold', 'timeMs', 'y-websocket', 'lower', 0.2, 0, ' ms')
  ratioTarget('workspace-time-hocuspocus', 'workspace, cold: time ≤ 0.7× Hocuspocus\'s', 'workspace', 'cold', 'timeMs', 'hocuspocus', 'lower', 0.7, 0, ' ms')
  ratioTarget('workspace-rss', 'workspace, cold: server RSS per open document ≤ 0.7× best peer', 'workspace', 'cold', 'rssPerDocKb', 'best-peer', 'lower', 0.7, 1, ' KB')
  {
    const counts = ['cold', 'warm'].map((configId) => lookup(runs, 'workspace', configId, 'meridian', 'sockets'))
    const measured = counts.filter((c): c is number => c !== undefined)
    results.push({
      id: 'workspace-sockets',
      target: 'workspace: one socket for all 500 documents',
      figure: measured.length === 0 ? 'not measured' : `${counts.map((c) => formatNumber(c)).join(' (cold), ')} (warm)`,
      met: measured.length === 0 ? null : measured.every((c) => c === 1)
    })
  }
  {
    const few = lookup(runs, 'subdocs', 'parent-5', 'meridian', 'wireBytes')
    const all = lookup(runs, 'subdocs', 'parent-all', 'meridian', 'wireBytes')
    const target = 'subdocs: parent + 5 subdocuments ≤ 2% of the bytes of parent + all 500'
    results.push(
      few === undefined || all === undefined || all === 0
        ? { id: 'subdocs-bytes', target, figure: 'not measured', met: null }
        : { id: 'subdocs-bytes', target, figure: `${((100 * few) / all).toFixed(2)}% (${formatNumber(few)} B vs ${formatNumber(all)} B)`, met: few <= 0.02 * all }
    )
  }

  for (const edits of ['0', '100', '10000']) {
    const up = lookup(runs, 'reconnect', edits, 'meridian', 'bytesUp')
    const down = lookup(runs, 'reconnect', edits, 'meridian', 'bytesDown')
    const changed = lookup(runs, 'reconnect', edits, 'meridian', 'changedBytes')
    const target =
      edits === '0'
        ? 'reconnect, no offline edits: ≤ 1 KB each way'
        : `reconnect, ${formatNumber(Number(edits))} offline edits: each way ≤ 1.2× what changed`
    if (up === undefined || down === undefined || changed === undefined) {
      results.push({ id: `reconnect-${edits}`, target, figure: 'not measured', met: null })
      continue
    }
    const bound = edits === '0' ? 1024 : 1.2 * changed
    results.push({
      id: `reconnect-${edits}`,
      target,
      figure:
        `up ${formatNumber(up)} B, down ${formatNumber(down)} B` +
        (edits === '0' ? '' : ` vs ${formatNumber(changed)} B changed (${formatRatio(up / changed)} up, ${formatRatio(down / changed)} down)`),
      met: up <= bound && down <= bound
    })
  }

  {
    // Another client's edits while this one was away: nothing changed on our side (≤ 1 KB up), theirs come down.
    const up = lookup(runs, 'reconnect', 'remote-100', 'meridian', 'bytesUp')
    const down = lookup(runs, 'reconnect', 'remote-100', 'meridian', 'bytesDown')
    const changed = lookup(runs, 'reconnect', 'remote-100', 'meridian', 'changedBytes')
    const target = 'reconnect, another client made 100 edits meanwhile: down ≤ 1.2× what changed, up ≤ 1 KB'
    if (up === undefined || down === undefined || changed === undefined || changed === 0) {
      results.push({ id: 'reconnect-remote-100', target, figure: 'not measured', met: null })
    } else {
      results.push({
        id: 'reconnect-remote-100',
        target,
        figure: `up ${formatNumber(up)} B, down ${formatNumber(down)} B vs ${formatNumber(changed)} B changed (${formatRatio(down / changed)} down)`,
        met: up <= 1024 && down <= 1.2 * changed
      })
    }
  }

  for (const [metric, label] of [
    ['busyMs', 'closed right after editing'],
    ['settledMs', 'after compaction']
  ] as const) {
    const mine = lookup(runs, 'cold-load', '100k', 'meridian-store', metric)
    const peer = lookup(runs, 'cold-load', '100k', 'y-indexeddb', metric)
    const target = `cold load (${label}): ≥ 3× faster than y-indexeddb`
    if (mine === undefined || peer === undefined || mine === 0) {
      results.push({ id: `cold-load-${metric}`, target, figure: 'not measured', met: null })
      continue
    }
    results.push({
      id: `cold-load-${metric}`,
      target,
      figure: `y-indexeddb's time ÷ Meridian's = ${formatRatio(peer / mine)} (${formatNumber(mine)} ms vs ${formatNumber(peer)} ms)`,
      met: peer / mine >= 3
    })
  }
  return results
}

export function targetsTable(targets: TargetResult[]): string {
  const lines = ['| target | Meridian, this run | met |', '| --- | --- | --- |']
  for (const t of targets) lines.push(`| ${t.target} | ${t.figure} | ${t.met === null ? '—' : t.met ? 'yes' : '**no**'} |`)
  return lines.join('\n')
}

export function renderMarkdown(report: BenchReport, scenarios: readonly Scenario[]): string {
  const m = report.machine
  const minutes = (Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 60_000
  const parts = [
    '# Meridian benchmarks',
    '',
    `Run ${report.startedAt} (${minutes.toFixed(1)} min)${m.commit !== null ? `, commit \`${m.commit}\`` : ''}${report.quick ? ', **quick mode: reduced sizes, not comparable**' : ''}.`,
    '',
    `Machine: ${m.cpuModel}, ${m.cores} cores (\`nproc\` ${m.nproc}), ${m.memoryGiB.toFixed(1)} GiB memory, ${m.os}, Node ${m.node}.`,
    '',
    'Every server runs as its own process on 127.0.0.1 and is driven from one separate client process (a fresh one per measurement) with the same lightweight ' +
      'raw-protocol clients (lib0 encoders over `ws`), so the client costs the same whichever server is measured (the workspace and subdocs scenarios instead run each system\'s own client SDK, as described there). Server CPU (user + system, all threads) and RSS come from `/proc/<pid>`. ' +
      'Ratios: "× raw" is the figure divided by the raw ceiling\'s; "Meridian ÷ best peer" divides Meridian\'s figure by the better of the two peers\' (↑ higher is better, ↓ lower is better).',
    '',
    'Servers: **raw ws** forwards frames with no CRDT work (the physical ceiling); **Meridian relay** is `apps/relay` (SQLite storage, `synchronous` `full`: every update committed and its WAL fsynced before it is acknowledged; what arrives together is committed together); ' +
      '**@y/websocket-server** 0.1.1 (`setupWSConnection` on `ws`, in memory); **@hocuspocus/server** 3.x with no extensions (in memory). The peers keep documents in memory only: they do not persist anything in these runs. ' +
      '**Meridian relay, SQLite on tmpfs** is a diagnostic, not a target: the same relay with its database on tmpfs, where `fsync` returns at once, so the difference between the two Meridian rows is the cost of committing every update to disk.',
    '',
    'Meridian runs with `--auth none` (the peers have no auth either) and with its per-address connection cap and per-connection rate limits lifted: every client here comes from 127.0.0.1 and the writers are synthetic. ' +
      'Before each measurement the harness waits (up to 20 s) for the machine to be idle; a measurement during which other processes used more than 0.3 cores is repeated (up to twice, the least disturbed is kept). The load that remained is recorded per run in the JSON (`backgroundCores`) and summarised under each table.',
    '',
    '## Targets',
    '',
    targetsTable(report.targets),
    ''
  ]
  for (const scenario of scenarios) {
    const runs = report.runs.filter((r) => r.scenario === scenario.name)
    if (runs.length === 0) continue
    parts.push(`## ${scenario.title} (\`${scenario.name}\`)`, '', scenario.method, '', scenarioTable(scenario, report.runs), '')
    const background = runs.map((r) => r.backgroundCores).filter((v) => Number.isFinite(v))
    if (background.length > 0) {
      const worst = Math.max(...background)
      parts.push(
        worst < 0.1
          ? `Other load on the machine during these runs: none to speak of (at most ${worst.toFixed(2)} cores).`
          : `Other load on the machine during these runs: up to ${worst.toFixed(2)} cores (average ${(background.reduce((a, b) => a + b, 0) / background.length).toFixed(2)}); figures from runs with load are less reliable.`,
        ''
      )
    }
    for (const failed of runs.filter((r) => r.metrics === null)) {
      parts.push(`- ${SUBJECTS[failed.subject].label}, ${failed.configLabel}: failed — ${(failed.error ?? '').split('\n')[0] ?? ''}`)
    }
    if (runs.some((r) => r.metrics === null)) parts.push('')
  }
  return parts.join('\n')
}
