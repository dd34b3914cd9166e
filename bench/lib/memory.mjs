// Resident memory of the Worker under `wrangler dev`: the summed VmRSS of every workerd process
// below the wrangler dev process, sampled every intervalMs, for "peak growth during a run".
import { processMemoryKiB, resetPeakRss } from "./wrangler.mjs";

const MiB = 1024;
const wallNow = () => performance.timeOrigin + performance.now();

/**
 * start() reads the sum just before the run (the baseline) and resets each process's VmHWM;
 * stop() returns the peak of the sampled sums minus the baseline, the same by process kind
 * (worker: the Worker's runtime with local D1 and queues; proxy: wrangler's proxy on the dev
 * port), the RSS left at the end, and, as a cross-check that sampling missed no short spike, the
 * kernel's own peak (Σ VmHWM − baseline: an upper bound, since each process's peak counts even
 * when they did not coincide). The process list is refreshed every second (a restarted workerd
 * is picked up; one that died is reported in `gone`).
 */
export class RssSampler {
  constructor(worker, { intervalMs = 50, seriesMs = 250 } = {}) {
    Object.assign(this, { worker, intervalMs, seriesMs });
  }

  #discover() {
    for (const p of this.worker.workerdProcesses()) {
      if (this.procs.has(p.pid)) continue;
      this.procs.set(p.pid, p.kind);
      if (this.started) this.late.push(p.pid); // appeared during the run: its whole RSS counts as growth
      this.hwmReset[p.pid] = resetPeakRss(p.pid);
    }
  }

  #read() {
    const byKind = { worker: 0, proxy: 0 };
    const hwm = { worker: 0, proxy: 0 };
    let total = 0;
    for (const [pid, kind] of this.procs) {
      const m = processMemoryKiB(pid);
      if (!m) {
        if (!this.gone.includes(pid)) this.gone.push(pid);
        continue;
      }
      byKind[kind] += m.rss;
      hwm[kind] += m.hwm;
      total += m.rss;
    }
    return { at: wallNow(), total, byKind, hwm };
  }

  start() {
    this.procs = new Map();
    this.hwmReset = {};
    this.late = [];
    this.gone = [];
    this.started = false;
    this.#discover();
    if (this.procs.size === 0) throw new Error("no workerd process found below wrangler dev");
    this.base = this.#read();
    this.started = true;
    this.peak = this.base;
    this.peakByKind = { ...this.base.byKind };
    this.samples = 0;
    this.series = [[0, this.base.total, this.base.byKind.worker, this.base.byKind.proxy]];
    let lastDiscover = wallNow();
    this.timer = setInterval(() => {
      if (wallNow() - lastDiscover >= 1000) {
        this.#discover();
        lastDiscover = wallNow();
      }
      this.#sample();
    }, this.intervalMs);
    return this;
  }

  #sample() {
    const s = this.#read();
    this.samples++;
    if (s.total > this.peak.total) this.peak = s;
    for (const kind of Object.keys(s.byKind)) this.peakByKind[kind] = Math.max(this.peakByKind[kind], s.byKind[kind]);
    const t = s.at - this.base.at;
    if (t - this.series[this.series.length - 1][0] >= this.seriesMs) this.series.push([Math.round(t), s.total, s.byKind.worker, s.byKind.proxy]);
    return s;
  }

  stop() {
    clearInterval(this.timer);
    const end = this.#sample();
    const mib = (kib) => kib / MiB;
    return {
      interval_ms: this.intervalMs,
      samples: this.samples,
      processes: Object.fromEntries([...this.procs].map(([pid, kind]) => [pid, kind])),
      baseline_mib: mib(this.base.total),
      peak_mib: mib(this.peak.total),
      growth_mib: mib(this.peak.total - this.base.total),
      peak_after_s: (this.peak.at - this.base.at) / 1000,
      growth_by_kind_mib: Object.fromEntries(Object.keys(this.base.byKind).map((k) => [k, mib(this.peakByKind[k] - this.base.byKind[k])])),
      end_mib: mib(end.total),
      retained_mib: mib(end.total - this.base.total),
      hwm_growth_mib: Object.values(this.hwmReset).every(Boolean) ? mib(end.hwm.worker + end.hwm.proxy - this.base.total) : null,
      seconds: (end.at - this.base.at) / 1000,
      new_processes: this.late,
      gone: this.gone,
      /** [ms since the baseline, total, worker, proxy] in MiB, every seriesMs. */
      series_mib: this.series.map(([t, ...kib]) => [t, ...kib.map((k) => Math.round(mib(k) * 10) / 10)]),
    };
  }
}
