import * as grpc from "@grpc/grpc-js";
import { fromJSON } from "@grpc/proto-loader";
import protobuf from "protobufjs";

/**
 * The kubelet device-plugin API v1beta1 (k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1):
 * the messages and services we use, with the kubelet's package name and field numbers (the
 * wire format). Kept as text in the code so the built image needs no extra file.
 */
export const DEVICE_PLUGIN_PROTO = `
syntax = "proto3";
package v1beta1;

message DevicePluginOptions {
  bool pre_start_required = 1;
  bool get_preferred_allocation_available = 2;
}
message RegisterRequest {
  string version = 1;
  string endpoint = 2;
  string resource_name = 3;
  DevicePluginOptions options = 4;
}
message Empty {}
message ListAndWatchResponse { repeated Device devices = 1; }
message TopologyInfo { repeated NUMANode nodes = 1; }
message NUMANode { int64 ID = 1; }
message Device {
  string ID = 1;
  string health = 2;
  TopologyInfo topology = 3;
}
message PreStartContainerRequest { repeated string devices_ids = 1; }
message PreStartContainerResponse {}
message PreferredAllocationRequest {
  repeated ContainerPreferredAllocationRequest container_requests = 1;
}
message ContainerPreferredAllocationRequest {
  repeated string available_deviceIDs = 1;
  repeated string must_include_deviceIDs = 2;
  int32 allocation_size = 3;
}
message PreferredAllocationResponse {
  repeated ContainerPreferredAllocationResponse container_responses = 1;
}
message ContainerPreferredAllocationResponse { repeated string deviceIDs = 1; }
message AllocateRequest { repeated ContainerAllocateRequest container_requests = 1; }
message ContainerAllocateRequest { repeated string devices_ids = 1; }
message CDIDevice { string name = 1; }
message AllocateResponse { repeated ContainerAllocateResponse container_responses = 1; }
message ContainerAllocateResponse {
  map<string, string> envs = 1;
  repeated Mount mounts = 2;
  repeated DeviceSpec devices = 3;
  map<string, string> annotations = 4;
  repeated CDIDevice cdi_devices = 5;
}
message Mount {
  string container_path = 1;
  string host_path = 2;
  bool read_only = 3;
}
message DeviceSpec {
  string container_path = 1;
  string host_path = 2;
  string permissions = 3;
}

service Registration {
  rpc Register(RegisterRequest) returns (Empty) {}
}
service DevicePlugin {
  rpc GetDevicePluginOptions(Empty) returns (DevicePluginOptions) {}
  rpc ListAndWatch(Empty) returns (stream ListAndWatchResponse) {}
  rpc GetPreferredAllocation(PreferredAllocationRequest) returns (PreferredAllocationResponse) {}
  rpc Allocate(AllocateRequest) returns (AllocateResponse) {}
  rpc PreStartContainer(PreStartContainerRequest) returns (PreStartContainerResponse) {}
}
`;

/** The version string the kubelet expects in RegisterRequest. */
export const API_VERSION = "v1beta1";

// Message shapes as proto-loader presents them (keepCase: the proto's own field names).
export interface DevicePluginOptions {
  pre_start_required: boolean;
  get_preferred_allocation_available: boolean;
}
export interface RegisterRequest {
  version: string;
  endpoint: string;
  resource_name: string;
  options?: DevicePluginOptions;
}
export interface Device {
  ID: string;
  health: "Healthy" | "Unhealthy";
}
export interface ListAndWatchResponse {
  devices: Device[];
}
export interface DeviceSpec {
  container_path: string;
  host_path: string;
  permissions: string;
}
export interface ContainerAllocateResponse {
  envs?: Record<string, string>;
  mounts?: { container_path: string; host_path: string; read_only: boolean }[];
  devices: DeviceSpec[];
  annotations?: Record<string, string>;
}
export interface AllocateRequest {
  container_requests: { devices_ids: string[] }[];
}
export interface AllocateResponse {
  container_responses: ContainerAllocateResponse[];
}
export interface PreferredAllocationRequest {
  container_requests: {
    available_deviceIDs: string[];
    must_include_deviceIDs: string[];
    allocation_size: number;
  }[];
}
export interface PreferredAllocationResponse {
  container_responses: { deviceIDs: string[] }[];
}

interface Package {
  v1beta1: {
    Registration: grpc.ServiceClientConstructor;
    DevicePlugin: grpc.ServiceClientConstructor;
  };
}

let loaded: Package | undefined;

/** The two services, loaded once: clients (`new Registration(address, creds)`) and definitions. */
export function devicePluginApi(): Package["v1beta1"] {
  if (!loaded) {
    const root = protobuf.parse(DEVICE_PLUGIN_PROTO, { keepCase: true }).root;
    const definition = fromJSON(root.toJSON(), {
      keepCase: true,
      longs: String,
      defaults: true,
      arrays: true,
    });
    loaded = grpc.loadPackageDefinition(definition) as unknown as Package;
  }
  return loaded.v1beta1;
}
