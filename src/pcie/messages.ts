/**
 * The TLP-level messages between a PCIe function and the IOMMU (PCIe §10.4.1, §10.4.2). They travel
 * through the engine with a link latency, on the function's channel so a link keeps its order.
 */

/** Page Request (or Stop Marker) as it arrives at the root complex. */
export interface PageRequestMsg {
  /** Model id of the request, unique in a run (trace `req`). */
  reqId: number;
  /** Model id of the function (index in scenario.devices). */
  dev: number;
  /** Requester ID (bus/dev/fn). */
  rid: number;
  /** PASID from the prefix, or -1 without prefix. */
  pasid: number;
  /** PRG index, 9 bits. */
  prgi: number;
  /** PrFlag bits (src/trace/events.ts): READ, WRITE, LAST, EXEC, PRIV, PASID. */
  flags: number;
  /** Page number (address >> 12). */
  page: number;
  /** Stop Marker: L=1, R=W=0 with a PASID; not a fault (§1.2). */
  stopMarker: boolean;
}

/** Page Request Group Response (§1.4). */
export interface PrgResponseMsg {
  dev: number;
  rid: number;
  prgi: number;
  /** PCIe code: 0 Success, 1 Invalid Request, 15 Response Failure, others reserved. */
  code: number;
  /** PASID carried in the response prefix, or -1. */
  pasid: number;
}
