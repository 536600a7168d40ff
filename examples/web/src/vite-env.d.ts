/// <reference types="vite/client" />
interface ImportMetaEnv {
  readonly VITE_SIPP_GATEWAY_URL?: string;
  readonly VITE_SIPP_GATEWAY_TARGET?: string;
}
