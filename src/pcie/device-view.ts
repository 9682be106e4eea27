/**
 * What an IOMMU (hardware and driver glue) may read of a PCIe function: its identity and the
 * capability bits the host consults (the kernel reads them through pci_dev: pdev->pasid_required,
 * the PASID capability's width). The function implements it; the IOMMU layers import it from here.
 */
export interface DeviceView {
  readonly dev: number;
  readonly rid: number;
  readonly name: string;
  /** PRI Status bit 15, "PRG Response PASID Required" (pdev->pasid_required). */
  readonly responsePasidRequired: boolean;
  readonly pasidWidth: number;
}
