/** lspci texts shared by the importer tests. */

/** `lspci -tvnn` of a made-up two-domain server: real pciutils 3.9 output (`lspci -F dump -tvnn`) over configuration headers written for the purpose. */
export const SERVER_TREE = String.raw`-+-[0000:00]-+-00.0  Intel Corporation Sky Lake-E DMI3 Registers [8086:2020]
 |           +-01.0-[01-04]----00.0-[02-04]--+-08.0-[03]--+-00.0  NVIDIA Corporation GV100GL [Tesla V100 PCIe 16GB] [10de:1db4]
 |           |                               |            \-00.1  NVIDIA Corporation GP104 High Definition Audio Controller [10de:10f0]
 |           |                               \-10.0-[04]--
 |           +-02.0-[05]--+-00.0  Mellanox Technologies MT27800 Family [ConnectX-5] [15b3:1017]
 |           |            \-00.1  Mellanox Technologies MT27800 Family [ConnectX-5] [15b3:1017]
 |           \-03.0-[06]--
 +-[0000:80]-+-00.0  Intel Corporation Sky Lake-E DMI3 Registers [8086:2020]
 |           \-01.0-[81]----00.0  Samsung Electronics Co Ltd NVMe SSD Controller SM981/PM981/PM983 [144d:a808]
 \-[0001:00]-+-00.0  Intel Corporation Ice Lake Memory Map/VT-d [8086:09a2]
             \-02.0-[01]----00.0  Red Hat, Inc. Virtio 1.0 network device [1af4:1041]
`;
