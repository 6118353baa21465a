# Measures the fp32 error of Winograd F(4x4,3x3) and F(6x6,3x3) against a float64 direct 3x3 convolution
# (320 input channels, He-scaled weights, normal inputs). Transforms: Cook-Toom with points 0, ±1, ±2 (F4)
# and 0, ±1, ±2, ±1/2 (F6); Bᵀ is solved from the correlation identity.
# Run: /work/venv-ref/bin/python Documentation/Decisions/0003-winograd-error.py
import numpy as np
from fractions import Fraction as F
def mats(m, pts):
    r=3; a=m+r-1
    fin=[F(p) for p in pts]; assert len(fin)==a-1
    G=[]; 
    for i,p in enumerate(fin):
        f=1
        for j,q in enumerate(fin):
            if j!=i: f*= (p-q)
        G.append([1/f, p/f, p*p/f])
    G.append([F(0),F(0),F(1)])
    AT=[[fin[i]**k for i in range(a-1)]+[F(1) if k==m-1 else F(0)] for k in range(m)]
    AT=np.array(AT,dtype=object); G=np.array(G,dtype=object)
    # solve for BT: sum_i AT[k,i] G[i,j] BT[i,l] = [l==k+j]
    rows=[];rhs=[]
    for k in range(m):
        for j in range(r):
            for l in range(a):
                row=np.zeros(a*a); 
                for i in range(a): row[i*a+l]=float(AT[k,i]*G[i,j])
                rows.append(row); rhs.append(1.0 if l==k+j else 0.0)
    sol,res,rank,_=np.linalg.lstsq(np.array(rows),np.array(rhs),rcond=None)
    BT=sol.reshape(a,a)
    return AT.astype(float),G.astype(float),BT,rank
rng=np.random.default_rng(0)
C=320; O=8; T=64
for m,pts in [(4,[0,1,-1,2,-2]),(6,[0,1,-1,2,-2,0.5,-0.5])]:
    AT,G,BT,rank=mats(m,pts); a=m+2
    # 1D check
    g=rng.standard_normal(3); d=rng.standard_normal(a)
    y=AT@((G@g)*(BT@d)); ref=np.array([g@d[k:k+3] for k in range(m)])
    assert np.allclose(y,ref), (y,ref)
    w=(rng.standard_normal((O,C,3,3))*np.sqrt(2/(9*C)))
    x=rng.standard_normal((T,C,a,a))
    U=np.einsum('ij,ocjk,lk->ocil',G,w,G).astype(np.float32)
    BT32=BT.astype(np.float32); AT32=AT.astype(np.float32)
    V=np.einsum('ij,tcjk,lk->tcil',BT32,x.astype(np.float32),BT32).astype(np.float32)
    M=np.einsum('ocil,tcil->toil',U,V).astype(np.float32)  # float32 sum (numpy pairwise)
    Y=np.einsum('ij,tojk,lk->toil',AT32,M,AT32).astype(np.float32)
    ref=np.zeros((T,O,m,m))
    for yy in range(m):
        for xx in range(m):
            ref[:,:,yy,xx]=np.einsum('tcij,ocij->to',x[:,:,yy:yy+3,xx:xx+3],w)
    err=np.abs(Y-ref).max()/np.abs(ref).max()
    # direct f32
    d32=np.zeros((T,O,m,m),np.float32)
    for yy in range(m):
        for xx in range(m):
            d32[:,:,yy,xx]=np.einsum('tcij,ocij->to',x[:,:,yy:yy+3,xx:xx+3].astype(np.float32),w.astype(np.float32))
    print(f"F({m}x{m},3x3): rel err vs f64 direct {err:.2e}; fp32 direct {np.abs(d32-ref).max()/np.abs(ref).max():.2e}")
