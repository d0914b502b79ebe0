import { describe, expect, it } from "vitest";
import { classifyGoLine, versionAtLeast } from "../../../src/local/build/go.js";
import {
  COMPONENT_NAMES,
  component,
  goDirective,
  helmLdflags,
  kubernetesLdflags,
  majorMinor,
  prometheusRelease,
  promtoolLdflags,
  relativeReplaces,
  renderGoMod,
  renderToolsGo,
  stagingVersion,
  TEST_TOOLS,
} from "../../../src/local/build/targets.js";

describe("version stamps", () => {
  it("stamps component-base and client-go with the full, major and minor version", () => {
    expect(kubernetesLdflags("v1.36.3")).toBe(
      "-s -w -X k8s.io/component-base/version.gitVersion=v1.36.3 " +
        "-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=36 " +
        "-X k8s.io/component-base/version.gitTreeState=clean " +
        "-X k8s.io/client-go/pkg/version.gitVersion=v1.36.3 " +
        "-X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=36 " +
        "-X k8s.io/client-go/pkg/version.gitTreeState=clean",
    );
  });

  it("tells Helm which Kubernetes it renders for", () => {
    const flags = helmLdflags("v3.22.0", "v1.36.3");
    expect(flags).toContain("-X helm.sh/helm/v3/internal/version.version=v3.22.0");
    expect(flags).toContain("-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1");
    expect(flags).toContain("-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=36");
  });

  it("parses versions and maps them to staging tags", () => {
    expect(majorMinor("v1.36.3")).toEqual({ major: "1", minor: "36" });
    expect(() => majorMinor("1.36")).toThrow(/not a semantic version/);
    expect(stagingVersion("v1.36.3")).toBe("v0.36.3");
  });
});

describe("wrapper modules", () => {
  const k8sGoMod = `module k8s.io/kubernetes

go 1.26.0

require (
\tk8s.io/api v0.0.0
\tgithub.com/x/y v1.2.3
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/apimachinery => ./staging/src/k8s.io/apimachinery
\tgithub.com/x/y v1.2.3 => github.com/x/y v1.2.4
)
`;
  const etcdGoMod = `module go.etcd.io/etcd/server/v3

go 1.26.0

replace (
\tgo.etcd.io/etcd/api/v3 => ../api
\tgo.etcd.io/etcd/client/v3 => ../client/v3
)

replace go.etcd.io/etcd => ./FORBIDDEN_DEPENDENCY
`;

  it("finds relative replaces in block and single-line form, ignoring version replaces", () => {
    expect(relativeReplaces(k8sGoMod)).toEqual([
      { module: "k8s.io/api", target: "./staging/src/k8s.io/api" },
      { module: "k8s.io/apimachinery", target: "./staging/src/k8s.io/apimachinery" },
    ]);
    expect(relativeReplaces(etcdGoMod).map((r) => r.target)).toEqual([
      "./FORBIDDEN_DEPENDENCY",
      "../api",
      "../client/v3",
    ]);
    expect(goDirective(k8sGoMod)).toBe("1.26.0");
  });

  it("renders go.mod with one replace per module, pointing at the published version", () => {
    expect(
      renderGoMod({
        module: "kubevisor.local/kubebuild",
        go: "1.26.0",
        require: [["k8s.io/kubernetes", "v1.36.3"]],
        replace: [["k8s.io/api", "v0.36.3"]],
      }),
    ).toBe(
      "module kubevisor.local/kubebuild\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes v1.36.3\n\n" +
        "replace k8s.io/api => k8s.io/api v0.36.3\n",
    );
  });

  it("renders tools.go behind the tools build tag", () => {
    expect(renderToolsGo(["a/b", "c/d"])).toBe(
      '//go:build tools\n\npackage tools\n\nimport (\n\t_ "a/b"\n\t_ "c/d"\n)\n',
    );
  });
});

describe("go toolchain helpers", () => {
  it("compares dotted versions", () => {
    expect(versionAtLeast("1.26.8", "1.26.0")).toBe(true);
    expect(versionAtLeast("1.26", "1.26.0")).toBe(true);
    expect(versionAtLeast("1.25.9", "1.26.0")).toBe(false);
    expect(versionAtLeast("1.100.0", "1.26.0")).toBe(true);
  });

  it("tells compiled packages and downloads from everything else", () => {
    expect(classifyGoLine("k8s.io/apiserver/pkg/admission")).toBe("package");
    expect(classifyGoLine("runtime/internal/sys")).toBe("package");
    expect(classifyGoLine("go: downloading k8s.io/api v0.36.3")).toBe("download");
    expect(classifyGoLine("# k8s.io/foo")).toBe("other");
    expect(classifyGoLine("foo.go:12:3: undefined: x")).toBe("other");
  });
});

describe("promtool", () => {
  it("maps the Go module's v0.3XX.Y to the Prometheus release and stamps it", () => {
    expect(prometheusRelease("v0.316.0")).toBe("3.16.0");
    expect(prometheusRelease("v0.305.12")).toBe("3.5.12");
    expect(() => prometheusRelease("v3.16.0")).toThrow(/not a Prometheus module version/);
    expect(promtoolLdflags("v0.316.0")).toBe(
      "-s -w -X github.com/prometheus/common/version.Version=3.16.0",
    );
  });

  it("is a test tool: the product's ensureBinaries default leaves it out, setup builds it", () => {
    expect(COMPONENT_NAMES).toContain("promtool");
    expect(TEST_TOOLS).toEqual(["promtool"]);
    expect(component("promtool")).toMatchObject({
      key: "promtool-v0.316.0",
      binaries: ["promtool"],
    });
  });
});
