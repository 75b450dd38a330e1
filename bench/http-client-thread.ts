/**
 * The agent of (c′) and (c″) on a thread of its own: `count` POST /v1/intents of one body with
 * `concurrency` in flight over keep-alive sockets, each answered 202. The agent is another process
 * in a deployment, so its HTTP client must not share the sidecar's event loop (bench/netsync.ts).
 */
import { Agent, request } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

/** What the thread is asked to send. */
export interface HttpClientJob {
  host: string;
  port: number;
  body: Uint8Array;
  count: number;
  concurrency: number;
}

function post(agent: Agent, job: HttpClientJob, body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: job.host,
        port: job.port,
        method: 'POST',
        path: '/v1/intents',
        headers: { 'content-type': 'application/json', 'content-length': body.length },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 202 ? resolve() : reject(new Error(`POST /v1/intents: HTTP ${res.statusCode}`)),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function run(job: HttpClientJob): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: job.concurrency });
  const body = Buffer.from(job.body);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < job.count) {
      next++;
      await post(agent, job, body);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(job.concurrency, job.count) }, worker));
  } finally {
    agent.destroy();
  }
}

const elu0 = performance.eventLoopUtilization();
run(workerData as HttpClientJob).then(
  // The client's own busy share, so a reader can tell a client-bound run from a server-bound one.
  () => parentPort?.postMessage({ done: true, clientBusy: performance.eventLoopUtilization(elu0).utilization }),
  (err: unknown) => parentPort?.postMessage({ error: err instanceof Error ? err.message : String(err) }),
);
