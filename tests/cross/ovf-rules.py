#!/usr/bin/env python3
"""ovf-rules.py OVF [HREF=SIZE ...] - what VMware's and VirtualBox's OVF readers demand
beyond the OVF schema (../shared/FORMATS.md lists them; VirtualBox's are in its
ovfreader.cpp). Prints one line per broken rule and exits 1 if there is any, else
prints "OVF rules: N checked" and exits 0. Each HREF=SIZE is the size of the file
HREF as the package holds it, which the File's ovf:size must equal.
"""
import re
import sys
import xml.etree.ElementTree as ET

OVF = "http://schemas.dmtf.org/ovf/envelope/1"
RASD = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
VSSD = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"
STREAM = "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"
# The ResourceTypes VirtualBox's reader turns into hardware; any other Item must be
# ovf:required="false" or the import is refused.
KNOWN = {1, 3, 4, 5, 6, 10, 14, 15, 16, 17, 20, 23, 35}
CONTROLLERS = {5, 6, 20}


def o(name):
    return "{%s}%s" % (OVF, name)


def r(name):
    return "{%s}%s" % (RASD, name)


def main(argv):
    if len(argv) < 2:
        print("usage: ovf-rules.py OVF [HREF=SIZE ...]", file=sys.stderr)
        return 2
    sizes = dict(a.split("=", 1) for a in argv[2:])
    broken, checked = [], 0

    def rule(ok, text):
        nonlocal checked
        checked += 1
        if not ok:
            broken.append(text)

    env = ET.parse(argv[1]).getroot()
    rule(env.tag == o("Envelope"), "the root is not an OVF 1.x Envelope")
    rule(env.get(o("version")) == "1.0", "ovf:version is not 1.0")

    files = {f.get(o("id")): f for f in env.iter(o("File"))}
    rule(len(files) >= 1, "References lists no File")
    for fid, f in files.items():
        href = f.get(o("href"))
        rule(bool(href) and "/" not in href, "File %s has no plain ovf:href" % fid)
        if href in sizes:
            rule(f.get(o("size")) == sizes[href],
                 "File %s: ovf:size %s, but the package holds %s bytes" %
                 (href, f.get(o("size")), sizes[href]))
        else:
            rule(False, "File %s is not in the package" % href)

    disks = {}
    for d in env.iter(o("Disk")):
        did = d.get(o("diskId"))
        rule(bool(did), "a Disk has no ovf:diskId")
        rule(d.get(o("format")) == STREAM, "Disk %s: ovf:format is not streamOptimized" % did)
        cap = d.get(o("capacity"))
        rule(bool(cap) and cap.isdigit() and int(cap) > 0,
             "Disk %s: ovf:capacity is not a number of bytes" % did)
        rule(d.get(o("capacityAllocationUnits"), "byte") == "byte",
             "Disk %s: capacity is not in bytes" % did)
        rule(d.get(o("fileRef")) in files, "Disk %s: ovf:fileRef names no File" % did)
        disks[did] = d
    rule(len(disks) >= 1, "DiskSection has no Disk")

    systems = list(env.iter(o("VirtualSystem")))
    rule(len(systems) == 1, "not exactly one VirtualSystem")
    for vs in systems:
        oss = vs.find(o("OperatingSystemSection"))
        rule(oss is not None and oss.get(o("id")) is not None,
             "no OperatingSystemSection with ovf:id")
        vtype = vs.findtext(".//{%s}VirtualSystemType" % VSSD)
        rule(bool(vtype) and re.fullmatch(r"vmx-\d+", vtype) is not None,
             "VirtualSystemType %r is not vmx-NN" % vtype)
        items = vs.findall(".//" + o("Item"))
        ids = {}
        for it in items:
            rtype = it.findtext(r("ResourceType"))
            iid = it.findtext(r("InstanceID"))
            rule(bool(iid), "an Item of type %s has no InstanceID" % rtype)
            ids[iid] = it
            t = int(rtype) if rtype and rtype.isdigit() else -1
            if t not in KNOWN:
                rule(it.get(o("required")) == "false",
                     "Item %s of type %s, which VirtualBox does not know, is not "
                     "ovf:required=\"false\"" % (iid, rtype))
        cpus = [it for it in items if it.findtext(r("ResourceType")) == "3"]
        rule(len(cpus) == 1 and (cpus[0].findtext(r("VirtualQuantity")) or "0").isdigit()
             and int(cpus[0].findtext(r("VirtualQuantity"))) > 0,
             "not exactly one CPU Item with a VirtualQuantity")
        mem = [it for it in items if it.findtext(r("ResourceType")) == "4"]
        rule(len(mem) == 1 and mem[0].findtext(r("AllocationUnits")) == "byte * 2^20",
             "not exactly one memory Item in byte * 2^20")
        for it in items:
            if it.findtext(r("ResourceType")) != "17":
                continue
            parent = ids.get(it.findtext(r("Parent")))
            rule(parent is not None and
                 int(parent.findtext(r("ResourceType")) or -1) in CONTROLLERS,
                 "disk Item %s: its Parent is no controller" % it.findtext(r("InstanceID")))
            host = it.findtext(r("HostResource")) or ""
            rule(host.startswith("ovf:/disk/") and host[len("ovf:/disk/"):] in disks,
                 "disk Item %s: HostResource %r names no Disk" %
                 (it.findtext(r("InstanceID")), host))

    for b in broken:
        print(b)
    if broken:
        return 1
    print("OVF rules: %d checked" % checked)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
