import { KubeConfig } from "@kubernetes/client-node";
import { apiServerConfigFromEnv } from "../apiserver/config.js";
import { startApiServer } from "../apiserver/server.js";
import { caBundlePublisher } from "../apiserver/serving-cert.js";
import { KubeClient } from "../kube/client.js";
import { logger } from "../util/log.js";
import { ConfigError, parseConfig, USAGE } from "./config.js";
import { startOperator } from "./operator.js";

/** `node dist/operator/main.js`: the operator Deployment's entry point. */
async function main() {
  const log = logger("operator-main");
  if (process.argv.includes("--help")) {
    console.log(USAGE);
    return;
  }
  let config: ReturnType<typeof parseConfig>;
  try {
    config = parseConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof ConfigError) && !(err instanceof TypeError)) throw err;
    console.error(`${err.message}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const kubeConfig = new KubeConfig();
  if (config.kubeconfig) kubeConfig.loadFromFile(config.kubeconfig);
  else kubeConfig.loadFromDefault();

  // Every replica serves the aggregated API, leader or not (see src/apiserver/README.md);
  // the leader alone keeps its APIService caBundle in step with the CA rotation.
  const apiServerConfig = apiServerConfigFromEnv(process.env);
  const operator = await startOperator({
    kubeConfig,
    namespace: config.namespace,
    launcherImage: config.launcherImage,
    imagePullPolicy: config.imagePullPolicy,
    imagePullSecrets: config.imagePullSecrets,
    guestOutbound: config.guestOutbound,
    identity: config.identity,
    leaderElection: config.leaderElection,
    workers: config.workers,
    http: { port: config.httpPort, host: config.httpHost },
    decide: { statusPollMs: config.statusPollMs },
    networkPolicy: config.networkPolicy,
    certificates: config.certificates,
    ...(apiServerConfig
      ? { publishTrust: caBundlePublisher(new KubeClient(kubeConfig), log) }
      : {}),
    migration: {
      parallelPerCluster: config.parallelMigrationsPerCluster,
      parallelPerNode: config.parallelMigrationsPerNode,
      parallelPerNamespace: config.parallelMigrationsPerNamespace,
      maxCompletionTimeoutPerGiB: config.migrationMaxCompletionTimeoutPerGiB,
      ...(config.migrationMaxBandwidthBytesPerSec !== undefined
        ? { maxBandwidthBytesPerSec: config.migrationMaxBandwidthBytesPerSec }
        : {}),
    },
  });
  const apiServer = apiServerConfig
    ? await startApiServer({
        kubeConfig,
        namespace: config.namespace,
        certificates: config.certificates,
        ...apiServerConfig,
      })
    : undefined;
  log.info(
    {
      namespace: config.namespace,
      httpPort: operator.httpPort,
      leaderElection: config.leaderElection,
    },
    "operator running",
  );
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    Promise.all([operator.stop(), apiServer?.close()]).then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

main().catch((err) => {
  logger("operator-main").fatal({ err }, "operator failed to start");
  process.exit(1);
});
