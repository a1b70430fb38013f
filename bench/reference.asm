; reference.asm - the REFERENCE design, built only for `make bench`; never shipped.
;
; It takes the published reference's approach, which asm/boot.asm improves on, so that
; bench/bootbench can measure both programs the same way. Its weaknesses are deliberate,
; since they are what the benchmark shows:
;   - No UART interrupt. The main loop polls LSR for one byte and, finding none, sleeps
;     in `sti; hlt` until the BIOS 18.2 Hz timer tick (54.9 ms) wakes it. Whether the
;     next byte of a burst is already there when it looks again after a byte is a race
;     with QEMU's I/O thread, so a burst moves at one to a few bytes a tick: a 200-byte
;     line takes 1 to 7 s, typically about 5 s, under QEMU TCG.
;   - FIFO off. On real hardware a second byte arriving within one tick overwrites the
;     first (pasted text is lost). QEMU holds bytes back until the UART has room, which
;     hides the loss but not the slowness.
;   - The power button is polled on the tick too, at QEMU's hard-coded PM base 0x600.
;     Where PMBASE is elsewhere (pc-i440fx-1.4, Bochs: 0xB000) port 0x600 reads 0xFFFF,
;     which looks like a pressed button, so it powers off (or halts) at the first tick.
;   - An LF after a CR ends a second, empty line.
;
; Contract
;   Load:     linear 0x7C00; only near relative jumps and calls, so CS may be 0 or 0x7C0.
;   Output:   every byte goes to BIOS video (int 10h teletype) and COM1 (9600 8N1).
;   REPL:     "ClientAPI" CR LF "$ "; each byte is echoed; CR or LF ends the line; the
;             reply is CR LF, the first LINE_MAX bytes reversed, CR LF "$ ".
;   Power:    PWRBTN_STS at PM_BASE -> S5 (SLP_TYP 0, QEMU's value), then cli; hlt.
;
; Registers: BX = 0 throughout (video page 0 for int 10h); DI = next free byte of the line.
; Memory (segment 0): stack below 0x7C00; the line buffer at LINE_BUF, free RAM above
; the BIOS data area.

bits 16
org 0x7C00
%ifdef MAPFILE
[map all MAPFILE]                       ; symbol addresses for sizecheck (make passes it)
%endif

STACK_TOP   equ 0x7C00
LINE_BUF    equ 0x0500              ; first byte after the BIOS data area
LINE_MAX    equ 80                  ; bytes stored per line; later bytes are echoed only

COM1        equ 0x3F8               ; RBR/THR; +1 IER, +2 FCR, +5 LSR
COM1_IER    equ COM1 + 1
COM1_FCR    equ COM1 + 2
COM1_LSR    equ COM1 + 5
LSR_DR      equ 0x01                ; receive data ready
LSR_THRE    equ 0x20                ; transmit holding register empty
SER_INIT    equ 0xE3                ; int 14h AH=00: 9600 baud, no parity, 1 stop, 8 bits

PM_BASE     equ 0x600               ; QEMU pc/q35 only: the weakness named above
PM1_STS     equ PM_BASE
PM1_EN      equ PM_BASE + 2
PM1_CNT     equ PM_BASE + 4
PWRBTN      equ 0x0100              ; PWRBTN_STS / PWRBTN_EN, bit 8
SLP_EN_S5   equ 0x2000              ; SLP_EN, SLP_TYP 0

start:
        cli                             ; no tick while the stack moves
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, STACK_TOP
        cld                             ; stosb stores upwards
        xor bx, bx                      ; video page 0

        mov ax, SER_INIT                ; AH=00: initialise the port
        cwd                             ; DX = 0: COM1
        int 0x14
        mov dx, COM1_IER
        xor al, al
        out dx, al                      ; no UART interrupt: the tick drives everything
        inc dx                          ; FCR
        out dx, al                      ; FIFO off
        mov dx, PM1_EN
        mov ax, PWRBTN
        out dx, ax                      ; QEMU latches PWRBTN_STS only when enabled

        mov si, banner                  ; "ClientAPI" runs on into the CR LF
        call puts
prompt:
        mov si, prompt_txt
        call puts
        mov di, LINE_BUF

; Look at the power button and the UART; with nothing there, sleep until the next tick.
; A byte that arrives after the look waits for the tick (up to 54.9 ms).
main:
        mov dx, PM1_STS
        in ax, dx
        test ah, PWRBTN >> 8
        jnz power_off
        mov dx, COM1_LSR
        in al, dx
        test al, LSR_DR
        jnz receive
        sti
        hlt                             ; IF=1: the timer tick wakes us
        jmp main

receive:
        mov dx, COM1                    ; RBR
        in al, dx
        cmp al, 0x0D
        je end_of_line
        cmp al, 0x0A
        je end_of_line
        call putc                       ; echo every byte, stored or not
        cmp di, LINE_BUF + LINE_MAX
        jae main
        stosb
        jmp main

end_of_line:
        mov si, crlf
        call puts
.byte:  cmp di, LINE_BUF                ; the line backwards, emptying the buffer
        je .done
        dec di
        mov al, [di]
        call putc
        jmp .byte
.done:  mov si, crlf
        call puts
        jmp prompt

power_off:
        mov dx, PM1_CNT
        mov ax, SLP_EN_S5
        out dx, ax
        cli
.halt:  hlt                             ; the CPU may run on briefly after SLP_EN
        jmp .halt

; puts: the NUL-terminated string at SI. Clobbers AX, DX, SI.
puts:
        lodsb
        test al, al
        jz .ret
        call putc
        jmp puts
.ret:   ret

; putc: AL -> BIOS video and COM1. Clobbers DX.
putc:
        push ax
        mov ah, 0x0E                    ; teletype; BH = page 0
        int 0x10
        mov dx, COM1_LSR
.wait:  in al, dx
        test al, LSR_THRE
        jz .wait
        pop ax
        mov dx, COM1                    ; THR
        out dx, al
        ret

banner:     db "ClientAPI"
crlf:       db 0x0D, 0x0A, 0
prompt_txt: db "$ ", 0

code_end:
        times 256 - ($ - $$) db 0       ; a negative count here means over budget
