// Host metrics computed on each scrape from the os module: CPU utilization, memory, load average.
import os from "node:os";
import { Gauge, type Registry } from "prom-client";

interface CpuTimes {
  idle: number;
  total: number;
}

function cpuTimes(): CpuTimes {
  let idle = 0;
  let total = 0;
  for (const cpu of os.cpus()) {
    const { user, nice, sys, idle: idleTime, irq } = cpu.times;
    idle += idleTime;
    total += user + nice + sys + idleTime + irq;
  }
  return { idle, total };
}

export function hostMetrics(registry: Registry): void {
  const registers = [registry];
  // Utilization over the time since the previous scrape (since the node started, at the first one).
  let previous = cpuTimes();
  let utilization = 0;
  new Gauge({
    name: "clawbot_host_cpu_utilization_ratio",
    help: "Share of the host's CPU time (all cores) not idle since the previous scrape, 0..1.",
    registers,
    collect() {
      const now = cpuTimes();
      const total = now.total - previous.total;
      if (total > 0) {
        utilization = Math.min(1, Math.max(0, 1 - (now.idle - previous.idle) / total));
        previous = now;
      }
      this.set(utilization);
    },
  });
  new Gauge({ name: "clawbot_host_cpus", help: "Logical CPUs of the host.", registers, collect() { this.set(os.availableParallelism()); } });
  new Gauge({ name: "clawbot_host_memory_total_bytes", help: "The host's physical memory.", registers, collect() { this.set(os.totalmem()); } });
  new Gauge({
    name: "clawbot_host_memory_available_bytes",
    help: "Memory the host can give to programs without swapping (Linux MemAvailable).",
    registers,
    collect() {
      this.set(os.freemem());
    },
  });
  for (const [index, window] of ["1", "5", "15"].entries()) {
    new Gauge({
      name: `clawbot_host_load${window}`,
      help: `The host's ${window}-minute load average (0 on Windows).`,
      registers,
      collect() {
        this.set(os.loadavg()[index] ?? 0);
      },
    });
  }
}
