; boot.asm - a 256-byte x86 boot program: banner, reversing serial REPL, ACPI S5 power-off.
;
; Contract
;   Load:     the BIOS loads us at linear 0x7C00 (CS:IP may be 0000:7C00 or 07C0:0000;
;             only near relative jumps/calls are used, so either works). DL is ignored.
;   Entry:    nothing else is trusted: DS/ES/SS/SP, IF (Bochs enters with IF=0), DF and the
;             UART set-up (Bochs leaves 5-bit words) are all set here.
;   Output:   every byte goes to COM1 (9600 8N1) and to BIOS video (int 10h teletype).
;   REPL:     "ClientAPI" CR LF "$ ", then for each line: every byte is echoed; CR or LF
;             ends the line (the LF of a CR LF pair is ignored); the reply is CR LF, the
;             first LINE_MAX bytes of the line reversed, CR LF, "$ ". Any byte value is data.
;   Power:    the ACPI power button (QEMU system_powerdown, qm/virsh shutdown) enters S5.
;             The PM register block is found at run time from the PM device's PMBASE.
;   Wake-ups: hlt, woken only by the COM1 receive interrupt (IRQ 4) and the SCI (IRQ 9);
;             our own handler sends the EOIs. The timer is stopped: an idle guest makes
;             the host do nothing at all.
;
; Registers held across the main loop
;   BP = PM1a_STS port (PMBASE), or PIC_CMD when no PM device was found (see pm_probe)
;   DI = next free byte of the line buffer
;   BH = 0 (video page for int 10h), BL = the previous byte received (CR LF pairing)
;
; Memory map (segment 0 throughout)
;   0x0030, 0x01C4   interrupt vectors of IRQ 4 (int 0Ch) and IRQ 9 (int 71h)
;   ..0x7BFF         stack, growing down from STACK_TOP
;   0x7C00..0x7CFF   this program
;   line..line+81    line buffer: it starts over the reversed banner at the end of the
;                    program (the banner is printed once, before the first byte is stored)
;                    and runs on into the unused rest of the boot sector.

bits 16
org 0x7C00
%ifdef MAPFILE
[map all MAPFILE]                       ; symbol addresses for sizecheck (make passes it)
%endif

STACK_TOP   equ 0x7C00
LINE_MAX    equ 80              ; bytes stored per line; later bytes are echoed only

COM1        equ 0x3F8           ; RBR/THR; +1 IER, +2 FCR, +4 MCR, +5 LSR
COM1_IER    equ COM1 + 1
COM1_LSR    equ COM1 + 5
LSR_DR      equ 0x01            ; receive data ready
LSR_PE      equ 0x04            ; parity error
LSR_THRE    equ 0x20            ; transmit holding register empty
IER_RDA     equ 0x01            ; interrupt on received data
FCR_ENABLE  equ 0x01            ; FIFO on, receive trigger at 1 byte
MCR_VALUE   equ 0x0B            ; DTR | RTS | OUT2 (OUT2 gates the IRQ line on PCs)
SER_INIT    equ 0xE3            ; int 14h AH=00: 9600 baud, no parity, 1 stop, 8 bits

PIC_CMD     equ 0x20            ; master 8259 command port; data (mask) at 0x21
PIC2_CMD    equ 0xA0            ; slave 8259; mask at 0xA1
EOI         equ 0x20
PIC1_MASK   equ 0xEA            ; open IRQ 2 (cascade), 4 (COM1); 0 stays open (see pm_probe)
PIC2_MASK   equ 0xFD            ; open IRQ 9 (SCI)
VEC_IRQ4    equ 0x0C * 4        ; IVT slot of int 0Ch
VEC_IRQ9    equ 0x71 * 4        ; IVT slot of int 71h
PIT_CTRL    equ 0x43            ; 8254 mode register
PIT0_STOP   equ 0x30            ; counter 0, mode 0, no count written yet: it waits

PCI_ADDR    equ 0xCF8           ; configuration mechanism 1
PCI_DATA    equ 0xCFC
PCI_ENABLE  equ 0x80000000
PMBASE_REG  equ 0x40            ; PIIX4 PM function and ICH9 LPC both keep PMBASE here
PM1_EN      equ 2               ; PM1a_EN = PMBASE + 2
PM1_CNT     equ 4               ; PM1a_CNT = PMBASE + 4
PWRBTN      equ 0x0100          ; PWRBTN_STS / PWRBTN_EN, bit 8
SLP_EN      equ 0x2000          ; bit 13
S5_TYP0     equ SLP_EN | (0 << 10)  ; S5 on QEMU pc/q35, Bochs, PIIX4 machines
S5_TYP5     equ SLP_EN | (5 << 10)  ; S5 on VirtualBox

start:
        cld                             ; stosb/stosw below store upwards
        xor ax, ax
        mov ds, ax                      ; all addresses are linear (org 0x7C00, segment 0)
        mov es, ax
        mov ss, ax                      ; no interrupt can land between these two: a
        mov sp, STACK_TOP               ; mov to SS holds interrupts off for one instruction
        xor bx, bx                      ; BH = video page 0; BL = no previous byte

serial_init:
        mov ax, SER_INIT                ; AH=00 initialise port
        cwd                             ; DX = 0: COM1
        int 0x14                        ; sets divisor and LCR (Bochs leaves 5-bit words)
        mov dx, COM1_IER
        mov al, IER_RDA
        out dx, al                      ; interrupt on every received byte...
        inc dx                          ; ... FCR: IER_RDA and FCR_ENABLE are both 1
        out dx, al                      ; FIFO on: bytes that arrive while we transmit wait
        mov dl, COM1 & 0xFF | 4         ; MCR
        mov al, MCR_VALUE
        out dx, al

irq_init:
        mov al, PIT0_STOP               ; no 18.2 Hz tick: under QEMU the tick alone costs
        out PIT_CTRL, al                ; the host 0.7 % of a core while the guest idles
        mov eax, isr                    ; high word 0: the vector is 0000:isr
        mov [VEC_IRQ4], eax
        mov [VEC_IRQ9], eax
        mov al, PIC1_MASK
        out PIC_CMD + 1, al
        mov al, PIC2_MASK
        out PIC2_CMD + 1, al

; Find PMBASE: read register 0x40 of each candidate PM device on bus 0. An absent
; device reads all ones; a real PMBASE reads as a 64-byte-aligned port with bit 0
; (I/O space) set, so "value - 1 has its low 6 bits clear" accepts only that.
; Without a match BP stays PIC_CMD: its word read returns the master mask in the high
; byte, whose bit 0 (the stopped timer's) is open, so the power-button test never fires.
pm_probe:
        mov bp, PIC_CMD
        mov si, pm_devices
        mov cx, pm_devices.count
        mov eax, PCI_ENABLE             ; the high word survives the 16-bit loads below
.next:  lodsw                           ; AX = device/function << 8 | register
        mov dx, PCI_ADDR
        out dx, eax
        mov dl, PCI_DATA & 0xFF
        in ax, dx                       ; PMBASE | 1, or 0xFFFF for no device
        dec ax
        test al, 0x3F
        loopnz .next                    ; ZF=1: found; CX=0: tried all
        jnz .done
        xchg ax, bp                     ; BP = PMBASE = PM1a_STS
        lea dx, [bp + PM1_EN]
        mov ax, PWRBTN
        out dx, ax                      ; PWRBTN_EN only: the button alone raises the SCI
.done:
        mov di, line.banner_end             ; print the banner as if it were a typed line

; Print the line buffer backwards, from DI-1 down to the reversed prompt below it:
; the stored CR LF, the line reversed, then CR LF "$ ".
reply:
        lea si, [di - 1]
.byte:  mov al, [si]
        dec si
        call putc
        cmp si, prompt_rev
        jae .byte
        mov di, line

; Sleep until an interrupt, then look at the power button and the UART.
; CLI ... STI HLT: an interrupt arriving after the checks is held until STI, and STI
; delays it by one instruction, so it wakes the HLT instead of being lost before it.
main:
        cli
        mov dx, bp
        in ax, dx                       ; PM1a_STS
        shr ah, 1                       ; PWRBTN_STS -> CF
        jc power_off
        mov dx, COM1_LSR
        in al, dx
        and al, LSR_DR | LSR_PE         ; PE is never set at 8N1, but an absent UART
        cmp al, LSR_DR                  ; reads 0xFF: that must not look like data
        je receive
        sti
        hlt
        jmp main

receive:
        mov dl, COM1 & 0xFF             ; RBR
        mov ah, bl                      ; AH = previous byte
        in al, dx
        mov bl, al
        cmp ax, 0x0D0A                  ; LF right after CR: same line end, already answered
        je main
        cmp al, 0x0D
        je end_of_line
        cmp al, 0x0A
        je end_of_line
        call putc                       ; echo every byte, stored or not
        cmp di, line + LINE_MAX
        jae main
        stosb
        jmp main

end_of_line:
        mov ax, 0x0D0A                  ; stored LF then CR: printed backwards as CR LF
        stosw
        jmp reply

; ACPI S5. SLP_TYP for S5 comes from the DSDT's _S5_ object; it is 0 on QEMU, Bochs and
; PIIX4 machines and 5 on VirtualBox. Type 0 first: where 5 is S5, 0 is not a sleep
; state at all, so the second write is reached there. Interrupts are off (main).
power_off:
        lea dx, [bp + PM1_CNT]
        mov ax, S5_TYP0
        out dx, ax
        mov ah, S5_TYP5 >> 8
        out dx, ax
.halt:  hlt                             ; the CPU may run on briefly after SLP_EN
        jmp .halt

; putc: AL -> BIOS video and COM1. Keeps every register but DX.
putc:
        push ax
        mov ah, 0x0E                    ; teletype; BH = page 0
        int 0x10
        mov dx, COM1_LSR
.wait:  in al, dx                       ; Bochs and real UARTs take time per byte
        test al, LSR_THRE
        jz .wait
        pop ax
        mov dl, COM1 & 0xFF             ; THR
        out dx, al
        ret

; IRQ 4 and IRQ 9: wake the main loop, which does the work. Our own handler because
; some BIOSes mask an IRQ they did not expect instead of acknowledging it.
; The EOI to the slave is harmless for IRQ 4 (nothing in service there).
isr:
        push ax
        mov al, EOI
        out PIC2_CMD, al
        out PIC_CMD, al
        pop ax
        iret

; Bus 0 device/function << 8 | PMBASE_REG, most specific first.
pm_devices:
        dw 0x01 << 11 | 3 << 8 | PMBASE_REG     ; 00:01.3 PIIX4 PM: QEMU pc, Bochs
        dw 0x1F << 11 | 0 << 8 | PMBASE_REG     ; 00:1f.0 ICH9 LPC: QEMU q35
        dw 0x07 << 11 | 3 << 8 | PMBASE_REG     ; 00:07.3 PIIX4 PM: VMware, Hyper-V
        dw 0x07 << 11 | 0 << 8 | PMBASE_REG     ; 00:07.0 ACPI: VirtualBox
.count  equ ($ - pm_devices) / 2

; Text, stored backwards because reply prints downwards.
prompt_rev:
        db ' ', '$', 0x0A, 0x0D         ; CR LF "$ "
line:                                   ; the line buffer starts here, over the banner
        db "IPAtneilC"                  ; "ClientAPI"
.banner_end:

code_end:
        times 256 - ($ - $$) db 0       ; a negative count here means over budget
